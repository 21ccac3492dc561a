using System.Runtime.InteropServices;
using System.Text;

namespace SelfAlign.Native;

/// <summary><c>llama_chat_apply_template</c>: formats turns with one of the template families llama.cpp knows.</summary>
internal static unsafe class LlamaChatTemplate
{
    /// <summary>The formatted conversation, or null when llama.cpp does not recognise <paramref name="template"/>.</summary>
    public static string? Apply(string template, IReadOnlyList<(string Role, string Content)> turns, bool addAssistantPrefix)
    {
        var pinned = new List<GCHandle>();
        try
        {
            var messages = new llama_chat_message[turns.Count];
            for (var i = 0; i < turns.Count; i++)
            {
                messages[i].role = Pin(turns[i].Role, pinned);
                messages[i].content = Pin(turns[i].Content, pinned);
            }
            var tmpl = Utf8.NullTerminated(template);
            var unknown = false;
            // This function returns the length it needs (not minus it) when the buffer is short, and a negative number for an unknown template.
            var text = NativeBuffer.Fill<byte>(turns.Sum(t => t.Content.Length + t.Role.Length) * 2 + 256, (output, capacity) =>
            {
                int n;
                fixed (byte* t = tmpl)
                fixed (llama_chat_message* m = messages)
                    n = LlamaNative.llama_chat_apply_template(t, m, (nuint)messages.Length, addAssistantPrefix, (byte*)output, capacity);
                unknown = n < 0;
                return unknown ? 0 : n <= capacity ? n : -n;
            });
            return unknown ? null : Encoding.UTF8.GetString(text);
        }
        finally
        {
            foreach (var h in pinned) h.Free();
        }
    }

    private static nint Pin(string s, List<GCHandle> pinned)
    {
        var h = GCHandle.Alloc(Utf8.NullTerminated(s), GCHandleType.Pinned);
        pinned.Add(h);
        return h.AddrOfPinnedObject();
    }
}
