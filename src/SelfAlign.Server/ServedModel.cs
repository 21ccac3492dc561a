using SelfAlign.Generation;
using SelfAlign.Rain;

namespace SelfAlign.Server;

/// <summary>
/// A model the server answers for under <see cref="Name"/>: an engine (the base model, or the base with a LoRA adapter in
/// a context of its own, as llama.cpp applies adapters per context), the chat format its prompts are written in, and
/// optionally a RAIN decoder for requests that ask for it. The caller owns the engine and the decoder.
/// </summary>
public sealed class ServedModel(string name, GenerationEngine engine, IChatFormat format, RainDecoder? rain = null)
{
    public string Name { get; } = name;
    public GenerationEngine Engine { get; } = engine;
    public IChatFormat Format { get; } = format;
    public RainDecoder? Rain { get; } = rain;
    /// <summary>One search at a time: a RAIN decoder owns one context.</summary>
    internal SemaphoreSlim RainLock { get; } = new(1, 1);
    internal RequestGate Gate { get; set; } = new(1);
}
