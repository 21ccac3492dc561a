using SelfAlign.Generation;

namespace SelfAlign.Server;

/// <summary>
/// A model the server answers for under <see cref="Name"/>: an engine (the base model, or the base with a LoRA adapter in
/// a context of its own, as llama.cpp applies adapters per context), the chat format its prompts are written in, and
/// the RAIN judges requests may ask for (the first is the default). The caller owns the engine and the decoders.
/// </summary>
public sealed class ServedModel(string name, GenerationEngine engine, IChatFormat format, IReadOnlyList<ServedRainJudge>? rainJudges = null)
{
    public string Name { get; } = name;
    public GenerationEngine Engine { get; } = engine;
    public IChatFormat Format { get; } = format;
    public IReadOnlyList<ServedRainJudge> RainJudges { get; } = rainJudges ?? [];
    internal RequestGate Gate { get; set; } = new(1);
}
