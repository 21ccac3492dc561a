namespace SelfAlign.Models;

/// <summary>What <c>selfalign model inspect</c> reports, read from the GGUF header alone (no weights loaded).</summary>
public sealed record ModelSummary(
    string Path, string? Architecture, string? Name, long ParameterCount, long? Layers, long? EmbeddingLength,
    long? ContextLength, int VocabularySize, string? TokenizerModel, IReadOnlyDictionary<string, int> TensorTypes,
    string? ChatTemplate, int TensorCount)
{
    public static ModelSummary Of(GgufFile f)
    {
        var tokens = f.Metadata.TryGetValue("tokenizer.ggml.tokens", out var t) && t.Value is string[] s ? s.Length : 0;
        var types = f.Tensors.GroupBy(x => x.Type.ToString()).OrderByDescending(g => g.Count()).ToDictionary(g => g.Key, g => g.Count());
        return new ModelSummary(
            f.Path, f.Architecture, f.GetString("general.name"), f.Tensors.Sum(x => x.ElementCount),
            f.GetArchInteger("block_count"), f.GetArchInteger("embedding_length"), f.GetArchInteger("context_length"),
            tokens, f.GetString("tokenizer.ggml.model"), types, f.GetString("tokenizer.chat_template"), f.Tensors.Count);
    }
}
