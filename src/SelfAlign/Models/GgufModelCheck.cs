namespace SelfAlign.Models;

/// <summary>
/// Checks what llama.cpp asserts on (and so aborts the process over) while it loads or first uses a model, so that a
/// corrupt file gives a <see cref="GgufFormatException"/> instead: a duplicate token string, a sentencepiece
/// vocabulary that cannot spell every byte, a BOS or EOS token that is added but does not exist, attention head
/// counts that do not divide the width. What llama.cpp refuses by itself (a missing tensor, a wrong shape, an
/// unknown architecture) is left to it: it fails the load and the caller reports that.
/// </summary>
public static class GgufModelCheck
{
    /// <exception cref="GgufFormatException">the file would crash llama.cpp; the message names the key and the problem.</exception>
    public static void Validate(GgufFile gguf)
    {
        CheckTokenizer(gguf);
        CheckHyperParameters(gguf);
    }

    private static void CheckTokenizer(GgufFile gguf)
    {
        var path = gguf.Path;
        var model = gguf.GetString("tokenizer.ggml.model")
            ?? throw new GgufFormatException($"{path}: has no tokenizer (tokenizer.ggml.model missing)");
        if (!gguf.Metadata.TryGetValue("tokenizer.ggml.tokens", out var list) || list.Value is not string[] tokens)
            throw new GgufFormatException($"{path}: tokenizer.ggml.tokens is missing or not a list of strings");
        if (tokens.Length == 0) throw new GgufFormatException($"{path}: tokenizer.ggml.tokens is empty");

        var ids = new Dictionary<string, int>(tokens.Length, StringComparer.Ordinal);
        for (var i = 0; i < tokens.Length; i++)
            if (!ids.TryAdd(tokens[i], i))
                throw new GgufFormatException($"{path}: tokenizer.ggml.tokens holds \"{Printable(tokens[i])}\" twice (ids {ids[tokens[i]]} and {i})");

        CheckLength(gguf, "tokenizer.ggml.scores", tokens.Length);
        CheckLength(gguf, "tokenizer.ggml.token_type", tokens.Length);

        // A sentencepiece tokenizer falls back to one token per byte for text it has no piece for; llama.cpp looks
        // that token up with an unchecked map access, so a missing byte token ends the process mid-tokenization.
        if (model == "llama")
            for (var b = 0; b < 256; b++)
                if (!ids.ContainsKey($"<0x{b:X2}>") && !(b < 0x80 && ids.ContainsKey(((char)b).ToString())))
                    throw new GgufFormatException($"{path}: the sentencepiece vocabulary has no token for byte 0x{b:X2} (<0x{b:X2}>)");

        foreach (var (add, id, name) in new[] { ("add_bos_token", "bos_token_id", "BOS"), ("add_eos_token", "eos_token_id", "EOS") })
        {
            if (!gguf.Metadata.TryGetValue($"tokenizer.ggml.{add}", out var flag) || flag.Value is not true) continue;
            if (gguf.GetInteger($"tokenizer.ggml.{id}") is not { } tokenId || tokenId < 0 || tokenId >= tokens.Length)
                throw new GgufFormatException($"{path}: tokenizer.ggml.{add} is true but tokenizer.ggml.{id} names no token of the {tokens.Length}, so {name} cannot be added");
        }
    }

    private static void CheckLength(GgufFile gguf, string key, int tokens)
    {
        if (!gguf.Metadata.TryGetValue(key, out var v)) return;
        if (v.Value is not Array a || a.Length < tokens)
            throw new GgufFormatException($"{gguf.Path}: {key} must be a list of at least {tokens} values (one per token)");
    }

    /// <summary>llama.cpp divides by these without checking, so a zero or a non-divisor crashes it. Architectures
    /// without attention heads (recurrent ones) lack the keys and are left alone.</summary>
    private static void CheckHyperParameters(GgufFile gguf)
    {
        if (gguf.Architecture is null) throw new GgufFormatException($"{gguf.Path}: general.architecture is missing");
        var width = Positive(gguf, "embedding_length");
        Positive(gguf, "block_count");
        Positive(gguf, "context_length");
        var heads = Positive(gguf, "attention.head_count");
        var kvHeads = Positive(gguf, "attention.head_count_kv") ?? heads;
        if (width is { } w && heads is { } h && w % h != 0)
            throw new GgufFormatException($"{gguf.Path}: {gguf.Architecture}.embedding_length {w} is not a multiple of attention.head_count {h}");
        if (heads is { } h2 && kvHeads is { } kv && h2 % kv != 0)
            throw new GgufFormatException($"{gguf.Path}: {gguf.Architecture}.attention.head_count_kv {kv} does not divide attention.head_count {h2}");
    }

    /// <summary>The key's value when present (null when absent); present values must be positive.</summary>
    private static long? Positive(GgufFile gguf, string suffix)
    {
        var key = $"{gguf.Architecture}.{suffix}";
        if (!gguf.Metadata.TryGetValue(key, out var value)) return null;
        return value.AsInteger() is > 0 and <= int.MaxValue and var v
            ? v
            : throw new GgufFormatException($"{gguf.Path}: {key} is {value}; it must be a positive whole number");
    }

    private static string Printable(string s) => string.Concat(s.Select(c => char.IsControl(c) ? $"\\x{(int)c:X2}" : c.ToString()));
}
