using System.Runtime.InteropServices;
using System.Text;
using SelfAlign.Models;
using SelfAlign.Native;

namespace SelfAlign.Generation;

/// <summary>
/// The model's own chat template (from its GGUF), applied by <c>llama_chat_apply_template</c>, which knows
/// the common template families (ChatML, Llama 3, Mistral, ...) without running Jinja.
/// </summary>
public sealed unsafe class ModelChatTemplate : IChatFormat
{
    private readonly string _template;
    private readonly Vocabulary _vocab;

    /// <exception cref="InvalidOperationException">the model has no chat template.</exception>
    public ModelChatTemplate(LlamaModel model)
    {
        _template = model.ChatTemplate ?? throw new InvalidInputException($"{model.Path} has no chat template; use a turn format instead");
        _vocab = model.Vocabulary;
    }

    /// <summary>The end-of-turn token's text, when the vocabulary has one (generation also stops on it as a token).</summary>
    public IReadOnlyList<string> StopStrings => _vocab.Eot >= 0 ? [_vocab.TokenText(_vocab.Eot)] : [];

    public string Format(IReadOnlyList<ChatTurn> turns, bool addAssistantPrefix = true)
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
            var tmpl = Utf8.NullTerminated(_template);
            // This function returns the length it needs (not minus it) when the buffer is short, and a negative number for an unknown template.
            var text = NativeBuffer.Fill<byte>(turns.Sum(t => t.Content.Length + t.Role.Length) * 2 + 256, (output, capacity) =>
            {
                int n;
                fixed (byte* t = tmpl)
                fixed (llama_chat_message* m = messages)
                    n = LlamaNative.llama_chat_apply_template(t, m, (nuint)messages.Length, addAssistantPrefix, (byte*)output, capacity);
                if (n < 0) throw new InvalidInputException("llama.cpp does not recognise this model's chat template; use a turn format instead");
                return n <= capacity ? n : -n;
            });
            return Encoding.UTF8.GetString(text);
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
