namespace SelfAlign.Models;

/// <summary>
/// SelfAlign's own tokenizer for synthetic models: a SentencePiece-style (llama.cpp "llama") vocabulary
/// with all 256 byte tokens, so any UTF-8 text encodes; plus characters, word pieces and every prefix of
/// each piece (llama.cpp's SPM merges pairs, so a piece is reachable only through its prefixes).
/// </summary>
public static class ByteFallbackVocabulary
{
    // llama.cpp token types
    private const int Normal = 1, Unknown = 2, Control = 3, Byte = 6;
    private const string Space = "\u2581"; // SentencePiece's visible space

    public const string ChatMlTemplate =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    /// <summary>Tokenizer metadata for a GGUF file with exactly <paramref name="size"/> tokens.</summary>
    /// <param name="size">tokens in the vocabulary; filled with letter pieces after the words.</param>
    /// <param name="extraWords">words to give their own tokens first (a testbed's vocabulary).</param>
    /// <param name="trailingWords">words to add after the common English words.</param>
    public static IReadOnlyList<KeyValuePair<string, GgufMetadataValue>> Build(int size, IEnumerable<string>? extraWords = null, IEnumerable<string>? trailingWords = null) =>
        Build(extraWords, size, trailingWords);

    /// <summary>Just the bytes, characters, <paramref name="words"/>, common English words and <paramref name="trailingWords"/>
    /// (each with its prefixes): a compact word-level vocabulary.</summary>
    public static IReadOnlyList<KeyValuePair<string, GgufMetadataValue>> BuildCompact(IEnumerable<string> words, out int size, IEnumerable<string>? trailingWords = null)
    {
        var metadata = Build(words, null, trailingWords);
        size = ((string[])metadata.First(kv => kv.Key == "tokenizer.ggml.tokens").Value.Value).Length;
        return metadata;
    }

    private static IReadOnlyList<KeyValuePair<string, GgufMetadataValue>> Build(IEnumerable<string>? extraWords, int? fillTo, IEnumerable<string>? trailingWords)
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>" };
        var types = new List<int> { Unknown, Control, Control, Control, Control };
        for (var b = 0; b < 256; b++) { tokens.Add($"<0x{b:X2}>"); types.Add(Byte); }
        var size = fillTo ?? int.MaxValue;
        if (size < tokens.Count + 1) throw new InvalidInputException($"a vocabulary needs at least {tokens.Count + 1} tokens");

        var seen = new HashSet<string>(tokens);
        void Add(string piece)
        {
            if (tokens.Count >= size || !seen.Add(piece)) return;
            tokens.Add(piece);
            types.Add(Normal);
        }
        void AddWithPrefixes(string piece)
        {
            var chars = System.Globalization.StringInfo.GetTextElementEnumerator(piece);
            var prefix = "";
            while (chars.MoveNext()) { prefix += chars.GetTextElement(); Add(prefix); }
        }

        Add(Space);
        for (var c = 33; c < 127; c++) Add(((char)c).ToString());
        for (var c = 33; c < 127; c++) Add(Space + (char)c);
        foreach (var w in extraWords ?? []) AddWithPrefixes(Space + w);
        foreach (var w in CommonWords) AddWithPrefixes(Space + w);
        foreach (var w in trailingWords ?? []) AddWithPrefixes(Space + w);
        if (fillTo is null) return Metadata(tokens, types);
        // Fill the rest with letter pairs and triples, with and without a leading space.
        const string letters = "etaoinshrdlcumwfgypbvkjxqz";
        foreach (var a in letters) foreach (var b in letters) { Add($"{a}{b}"); Add($"{Space}{a}{b}"); }
        foreach (var a in letters) foreach (var b in letters) foreach (var c in letters) { Add($"{a}{b}{c}"); Add($"{Space}{a}{b}{c}"); }
        foreach (var a in letters) foreach (var b in letters) foreach (var c in letters) foreach (var d in letters)
        {
            if (tokens.Count >= size) break;
            Add($"{a}{b}{c}{d}");
        }
        for (var i = 0; tokens.Count < size; i++) Add($"<extra_{i}>");
        return Metadata(tokens, types);
    }

    private static IReadOnlyList<KeyValuePair<string, GgufMetadataValue>> Metadata(List<string> tokens, List<int> types)
    {
        // Longer pieces merge first (higher score), as in a trained SentencePiece model.
        var scores = tokens.Select((t, i) => types[i] == Normal ? t.Length - i * 1e-6f : 0f).ToArray();
        return
        [
            new("tokenizer.ggml.model", GgufMetadataValue.Of("llama")),
            new("tokenizer.ggml.tokens", GgufMetadataValue.Of(tokens.ToArray())),
            new("tokenizer.ggml.scores", GgufMetadataValue.Of(scores)),
            new("tokenizer.ggml.token_type", GgufMetadataValue.Of(types.ToArray())),
            new("tokenizer.ggml.unknown_token_id", GgufMetadataValue.Of(0u)),
            new("tokenizer.ggml.bos_token_id", GgufMetadataValue.Of(1u)),
            new("tokenizer.ggml.eos_token_id", GgufMetadataValue.Of(2u)),
            new("tokenizer.ggml.eot_token_id", GgufMetadataValue.Of(4u)),
            new("tokenizer.ggml.add_bos_token", GgufMetadataValue.Of(true)),
            new("tokenizer.ggml.add_eos_token", GgufMetadataValue.Of(false)),
            new("tokenizer.chat_template", GgufMetadataValue.Of(ChatMlTemplate)),
        ];
    }

    private static readonly string[] CommonWords =
    [
        "the", "of", "and", "to", "a", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are", "as", "with", "his",
        "they", "I", "at", "be", "this", "have", "from", "or", "one", "had", "by", "word", "but", "not", "what", "all", "were",
        "we", "when", "your", "can", "said", "there", "use", "an", "each", "which", "she", "do", "how", "their", "if", "will",
        "up", "other", "about", "out", "many", "then", "them", "these", "so", "some", "her", "would", "make", "like", "him",
        "into", "time", "has", "look", "two", "more", "write", "go", "see", "number", "no", "way", "could", "people", "my",
        "than", "first", "water", "been", "call", "who", "its", "now", "find", "long", "down", "day", "did", "get", "come",
        "made", "may", "part",
    ];
}
