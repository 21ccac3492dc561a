using System.Text;
using SelfAlign.Native;

namespace SelfAlign.Models;

/// <summary>
/// The model's own tokenizer (whatever its kind: SentencePiece, BPE, ...). No token id is assumed
/// anywhere in SelfAlign: special tokens and labels are looked up here.
/// </summary>
public sealed class Vocabulary
{
    private readonly NativeVocabulary _vocab;
    private readonly byte[]?[] _pieceCache;

    internal Vocabulary(NativeVocabulary vocab)
    {
        _vocab = vocab;
        Count = vocab.Count;
        _pieceCache = new byte[Count][];
    }

    public int Count { get; }
    public int Bos => _vocab.Bos;
    public int Eos => _vocab.Eos;
    /// <summary>End-of-turn token, or -1 if the vocabulary has none.</summary>
    public int Eot => _vocab.Eot;
    public bool AddsBos => _vocab.AddsBos;

    /// <summary>True for every token that ends generation (EOS, EOT and the like).</summary>
    public bool IsEndOfGeneration(int token) => _vocab.IsEndOfGeneration(token);

    /// <summary>The token's text as stored in the vocabulary (e.g. "▁the"), not its decoded bytes.</summary>
    public string TokenText(int token) => _vocab.TokenText(token);

    /// <param name="text">any UTF-8 text.</param>
    /// <param name="addSpecial">add BOS (and EOS) as the model's tokenizer is configured to.</param>
    /// <param name="parseSpecial">turn control-token text such as "&lt;|im_end|&gt;" into those tokens.</param>
    public int[] Tokenize(string text, bool addSpecial = true, bool parseSpecial = false)
    {
        return _vocab.Tokenize(Encoding.UTF8.GetBytes(text), addSpecial, parseSpecial) ?? throw new InvalidInputException("text too long to tokenize");
    }

    /// <summary>The raw bytes a token stands for (may be part of a UTF-8 character). Cached; do not modify.</summary>
    public ReadOnlySpan<byte> TokenBytes(int token, bool renderSpecial = false)
    {
        if (!renderSpecial && _pieceCache[token] is { } cached) return cached;
        var piece = _vocab.TokenToPiece(token, renderSpecial);
        if (!renderSpecial) _pieceCache[token] = piece;
        return piece;
    }

    /// <summary>
    /// Per token id, whether the token starts a word: its text is a space followed by something else (SentencePiece's "▁the"
    /// and BPE's "Ġthe" alike). Byte, control and bare-space tokens do not.
    /// </summary>
    public IReadOnlyList<bool> WordStarts => _wordStarts ??= Enumerable.Range(0, Count).Select(t =>
    {
        var b = TokenBytes(t);
        return b.Length >= 2 && b[0] == (byte)' ' && b[1] is not ((byte)' ' or (byte)'\n' or (byte)'\t');
    }).ToArray();

    private bool[]? _wordStarts;

    /// <summary>The token whose text is exactly <paramref name="piece"/> (as servers report tokens in log-probabilities), or -1;
    /// among tokens of equal text, the lowest id.</summary>
    public int TokenOfText(string piece)
    {
        if (_byText is null)
        {
            var byText = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var t = Count - 1; t >= 0; t--) byText[Encoding.UTF8.GetString(TokenBytes(t))] = t;
            _byText = byText;
        }
        return _byText.GetValueOrDefault(piece, -1);
    }

    private Dictionary<string, int>? _byText;

    /// <summary>The first token of each word as this vocabulary writes it right after <paramref name="context"/>, with and without a
    /// leading space (SentencePiece and BPE spell that space differently); a first token shorter than three of the word's
    /// characters (a lone "S") is left out, since banning it would ban far more than the word.</summary>
    public IEnumerable<int> FirstTokensAfter(string context, IEnumerable<string> words) =>
        words.Where(w => w.Length > 0).SelectMany(w => new[] { w, " " + w }.Select(v => (Word: w, Tokens: TokenizeContinuation(context, v))))
            .Where(x => x.Tokens.Length > 0 && Encoding.UTF8.GetString(TokenBytes(x.Tokens[0])).Trim().Length >= Math.Min(3, x.Word.Length))
            .Select(x => x.Tokens[0]).Distinct();

    /// <summary>Inverse of <see cref="Tokenize"/>.</summary>
    public string Detokenize(ReadOnlySpan<int> tokens, bool removeSpecial = true, bool renderSpecial = false)
    {
        return Encoding.UTF8.GetString(_vocab.Detokenize(tokens.ToArray(), removeSpecial, renderSpecial));
    }

    /// <summary>
    /// The tokens <paramref name="text"/> becomes when it follows <paramref name="context"/>: a tokenizer may write
    /// the same words differently at the start of a text (e.g. SentencePiece's leading "▁"), so text appended to a
    /// sequence is tokenized in its place and the context's own tokens are dropped. <paramref name="parseSpecial"/> false
    /// keeps special-token names in <paramref name="text"/> as plain text (a user's text must not write control tokens).
    /// </summary>
    public int[] TokenizeContinuation(string context, string text, bool parseSpecial = true)
    {
        var whole = Tokenize(context + text, addSpecial: true, parseSpecial);
        var head = Tokenize(context, addSpecial: true, parseSpecial);
        return whole.Length >= head.Length && whole.AsSpan(0, head.Length).SequenceEqual(head)
            ? whole[head.Length..]
            : Tokenize(text, addSpecial: false, parseSpecial);
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
