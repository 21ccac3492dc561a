using System.Text;

namespace SelfAlign.Native;

internal static class Utf8
{
    /// <summary>The UTF-8 bytes of <paramref name="s"/> followed by a NUL, for C string parameters.</summary>
    public static byte[] NullTerminated(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
