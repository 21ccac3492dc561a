using System.CommandLine;
using SelfAlign.Evaluation;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;

namespace SelfAlign.Cli.Commands;

/// <summary>
/// One side of an evaluation (the model under test, the pairwise baseline, the judge): a GGUF in its own engine, or a
/// model on an OpenAI-compatible server with the GGUF giving its vocabulary; with a RAIN decoder when it answers by RAIN.
/// </summary>
internal sealed class EvalSide : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    private EvalSide(LlamaModel model, ITextGenerator generator, ITextScorer scorer, string name, IReadOnlyList<(LoraAdapter Adapter, float Scale)> adapters)
    {
        (Model, Generator, Scorer, Name, Adapters) = (model, generator, scorer, name, adapters);
    }

    public LlamaModel Model { get; }
    public ITextGenerator Generator { get; }
    public ITextScorer Scorer { get; }
    public RainDecoder? Rain { get; private set; }
    /// <summary>What answers: the GGUF's path, or the served model and its URL.</summary>
    public string Name { get; }
    public bool IsRemote => Generator is Remote.OpenAiBackend;
    public IReadOnlyList<(LoraAdapter Adapter, float Scale)> Adapters { get; }

    /// <param name="adapter">the option naming LoRA adapters, if this side takes any; in process only.</param>
    public static EvalSide Open(ParseResult p, string modelPath, BackendOption backend, Option<string[]>? adapter, ContextOptions context)
    {
        var remote = backend.IsSet(p);
        if (remote && adapter is not null && p.GetValue(adapter) is { Length: > 0 })
            throw new InvalidInputException("--adapter applies to an in-process model; on a server, name the adapter's served model with --backend-model");
        // a served model needs only the vocabulary here; one in process needs the weights
        var model = LlamaModel.Load(modelPath, new ModelLoadOptions { VocabularyOnly = remote });
        try
        {
            if (remote)
            {
                var served = backend.Open(p, model.Vocabulary)!;
                return new EvalSide(model, served, served, backend.Describe(p), []) { _owned = { served, model } };
            }
            var adapters = adapter is null ? [] : AdapterOption.Load(p, adapter, model);
            var engine = new GenerationEngine(model, new EngineOptions { Context = context with { LoraAdapters = adapters } });
            return new EvalSide(model, engine, engine, model.Path, adapters) { _owned = { engine, model } };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Answers with <paramref name="decoder"/>: for RAIN, a decoder of its own on this side's model and adapters.</summary>
    public void UseDecoder(EvalDecoder decoder, RainJudge judge, RainOptions options, string sideOption)
    {
        if (decoder != EvalDecoder.Rain || Rain is not null) return;
        if (IsRemote) throw new InvalidInputException($"{sideOption} rain searches in process; it cannot run on a server");
        Rain = new RainDecoder(Model, judge, options, Adapters);
        _owned.Insert(0, Rain);
    }

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
    }
}
