namespace SelfAlign.Native;

/// <summary>
/// llama.cpp's convention for functions that fill a caller's buffer (tokenize, token_to_piece, detokenize): they write at
/// most the buffer's capacity and return how many items they wrote, or minus the capacity they need.
/// </summary>
internal static unsafe class NativeBuffer
{
    /// <summary>Calls <paramref name="fill"/> (buffer, capacity) → count or −needed, once more with the needed capacity if it asks.</summary>
    public static T[] Fill<T>(int capacity, Func<nint, int, int> fill) where T : unmanaged
    {
        while (true)
        {
            var buffer = new T[Math.Max(1, capacity)];
            int n;
            fixed (T* p = buffer) n = fill((nint)p, buffer.Length);
            if (n >= 0) return n == buffer.Length ? buffer : buffer.AsSpan(0, n).ToArray();
            if (-n <= buffer.Length) throw new InvalidOperationException($"llama.cpp asked for {-n} items in a buffer of {buffer.Length}");
            capacity = -n;
        }
    }
}
