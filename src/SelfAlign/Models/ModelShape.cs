namespace SelfAlign.Models;

/// <summary>Hyper-parameters that fix a decoder-only transformer's tensor shapes.</summary>
public sealed record ModelShape(
    string Architecture, int Embedding, int Layers, int Heads, int KvHeads, int FeedForward,
    int VocabSize, int ContextLength, float RopeFreqBase, float RmsEpsilon)
{
    public int HeadDim => Embedding / Heads;
    /// <summary>qwen2 has biases on the Q, K and V projections; llama has none.</summary>
    public bool QkvBias => Architecture == "qwen2";

    /// <summary>
    /// Named shapes: tiny (for tests), 135m (SmolLM2-135M's shape) and 0.5b (Qwen2.5-0.5B's shape).
    /// The vocabulary size of 135m and 0.5b follows the preset unless a tokenizer is supplied.
    /// </summary>
    public static ModelShape Preset(string architecture, string preset)
    {
        if (architecture is not ("llama" or "qwen2")) throw new InvalidInputException($"unknown architecture '{architecture}' (use llama or qwen2)");
        return preset switch
        {
            "tiny" => new(architecture, 64, 2, 4, 2, 128, 512, 1024, 10000f, 1e-5f),
            "135m" => new(architecture, 576, 30, 9, 3, 1536, 49152, 8192, 100000f, 1e-5f),
            "0.5b" => new(architecture, 896, 24, 14, 2, 4864, 151936, 32768, 1000000f, 1e-6f),
            _ => throw new InvalidInputException($"unknown preset '{preset}' (use tiny, 135m or 0.5b)"),
        };
    }
}
