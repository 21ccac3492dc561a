using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>A model's <c>llama_vocab*</c>; holds the model handle so the vocabulary lives as long as this does.</summary>
internal sealed unsafe class NativeVocabulary
{
    private readonly SafeLlamaModelHandle _model; // the vocabulary is freed with its model
    private readonly nint _vocab;

    public NativeVocabulary(SafeLlamaModelHandle model)
    {
        _model = model;
        _vocab = LlamaNative.llama_model_get_vocab(model);
    }

    public int Count => LlamaNative.llama_vocab_n_tokens(_vocab);
    public int Bos => LlamaNative.llama_vocab_bos(_vocab);
    public int Eos => LlamaNative.llama_vocab_eos(_vocab);
    public int Eot => LlamaNative.llama_vocab_eot(_vocab);
    public bool AddsBos => LlamaNative.llama_vocab_get_add_bos(_vocab);
    public bool IsEndOfGeneration(int token) => LlamaNative.llama_vocab_is_eog(_vocab, token);
    public string TokenText(int token) => Marshal.PtrToStringUTF8(LlamaNative.llama_vocab_get_text(_vocab, token)) ?? "";

    /// <summary>The tokens of UTF-8 <paramref name="text"/>; null when llama.cpp cannot count them in an int.</summary>
    public int[]? Tokenize(byte[] text, bool addSpecial, bool parseSpecial)
    {
        var overflow = false;
        var tokens = NativeBuffer.Fill<int>(text.Length + 8, (output, capacity) =>
        {
            int n;
            fixed (byte* t = text) n = LlamaNative.llama_tokenize(_vocab, t, text.Length, (int*)output, capacity, addSpecial, parseSpecial);
            overflow = n == int.MinValue;
            return overflow ? 0 : n;
        });
        return overflow ? null : tokens;
    }

    public byte[] TokenToPiece(int token, bool renderSpecial) =>
        NativeBuffer.Fill<byte>(32, (output, capacity) => LlamaNative.llama_token_to_piece(_vocab, token, (byte*)output, capacity, 0, renderSpecial));

    public byte[] Detokenize(int[] tokens, bool removeSpecial, bool renderSpecial) =>
        NativeBuffer.Fill<byte>(tokens.Length * 8 + 16, (output, capacity) =>
        {
            fixed (int* t = tokens) return LlamaNative.llama_detokenize(_vocab, t, tokens.Length, (byte*)output, capacity, removeSpecial, renderSpecial);
        });
}
