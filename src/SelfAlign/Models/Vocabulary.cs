using System.Runtime.InteropServices;
using System.Text;
using SelfAlign.Native;

namespace SelfAlign.Models;

/// <summary>
/// The model's own tokenizer (whatever its kind: SentencePiece, BPE, ...). No token id is assumed
/// anywhere in SelfAlign: special tokens and labels are looked up here.
/// </summary>
public sealed unsafe class Vocabulary
{
    private readonly LlamaModel _model; // keeps the native vocabulary alive
    private readonly nint _vocab;
    private readonly byte[]?[] _pieceCache;

    internal Vocabulary(LlamaModel model, nint vocab)
    {
        _model = model;
        _vocab = vocab;
        Count = LlamaNative.llama_vocab_n_tokens(vocab);
        _pieceCache = new byte[Count][];
    }

    public int Count { get; }
    public int Bos => LlamaNative.llama_vocab_bos(_vocab);
    public int Eos => LlamaNative.llama_vocab_eos(_vocab);
    /// <summary>End-of-turn token, or -1 if the vocabulary has none.</summary>
    public int Eot => LlamaNative.llama_vocab_eot(_vocab);
    public bool AddsBos => LlamaNative.llama_vocab_get_add_bos(_vocab);

    /// <summary>True for every token that ends generation (EOS, EOT and the like).</summary>
    public bool IsEndOfGeneration(int token) => LlamaNative.llama_vocab_is_eog(_vocab, token);

    /// <summary>The token's text as stored in the vocabulary (e.g. "▁the"), not its decoded bytes.</summary>
    public string TokenText(int token) => Marshal.PtrToStringUTF8(LlamaNative.llama_vocab_get_text(_vocab, token)) ?? "";

    /// <param name="text">any UTF-8 text.</param>
    /// <param name="addSpecial">add BOS (and EOS) as the model's tokenizer is configured to.</param>
    /// <param name="parseSpecial">turn control-token text such as "&lt;|im_end|&gt;" into those tokens.</param>
    public int[] Tokenize(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return NativeBuffer.Fill<int>(bytes.Length + 8, (output, capacity) =>
        {
            int n;
            fixed (byte* t = bytes) n = LlamaNative.llama_tokenize(_vocab, t, bytes.Length, (int*)output, capacity, addSpecial, parseSpecial);
            return n != int.MinValue ? n : throw new InvalidInputException("text too long to tokenize");
        });
    }

    /// <summary>The raw bytes a token stands for (may be part of a UTF-8 character). Cached; do not modify.</summary>
    public ReadOnlySpan<byte> TokenBytes(int token, bool renderSpecial = false)
    {
        if (!renderSpecial && _pieceCache[token] is { } cached) return cached;
        var piece = NativeBuffer.Fill<byte>(32, (output, capacity) => LlamaNative.llama_token_to_piece(_vocab, token, (byte*)output, capacity, 0, renderSpecial));
        if (!renderSpecial) _pieceCache[token] = piece;
        return piece;
    }

    /// <summary>Inverse of <see cref="Tokenize"/>.</summary>
    public string Detokenize(ReadOnlySpan<int> tokens, bool removeSpecial = true, bool renderSpecial = false)
    {
        var ids = tokens.ToArray();
        var bytes = NativeBuffer.Fill<byte>(ids.Length * 8 + 16, (output, capacity) =>
        {
            fixed (int* t = ids) return LlamaNative.llama_detokenize(_vocab, t, ids.Length, (byte*)output, capacity, removeSpecial, renderSpecial);
        });
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>
    /// The tokens <paramref name="text"/> becomes when it follows <paramref name="context"/>: a tokenizer may write
    /// the same words differently at the start of a text (e.g. SentencePiece's leading "▁"), so text appended to a
    /// sequence is tokenized in its place and the context's own tokens are dropped.
    /// </summary>
    public int[] TokenizeContinuation(string context, string text)
    {
        var whole = Tokenize(context + text, addSpecial: true, parseSpecial: true);
        var head = Tokenize(context, addSpecial: true, parseSpecial: true);
        return whole.Length >= head.Length && whole.AsSpan(0, head.Length).SequenceEqual(head)
            ? whole[head.Length..]
            : Tokenize(text, addSpecial: false);
    }

    /// <summary>
    /// The single token that <paramref name="text"/> encodes to when it follows other text
    /// (as an answer label does), or null if it takes more than one token.
    /// </summary>
    public int? FindSingleToken(string text)
    {
        var ids = Tokenize(text, addSpecial: false);
        return ids.Length == 1 ? ids[0] : null;
    }
}
