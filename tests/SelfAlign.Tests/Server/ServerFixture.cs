using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using SelfAlign.Tests.Rain;
using SelfAlign.Server;
using SelfAlign.Training;
using Xunit;

namespace SelfAlign.Tests.Server;

/// <summary>A server on a free loopback port over the tiny model: "tiny" (with RAIN), and "tiny-lora" with a random adapter.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string Base = "tiny", Adapted = "tiny-lora";

    public LlamaModel Model { get; } = LlamaModel.Load(TestModels.TinyLlama);
    public GenerationEngine Engine { get; private set; } = null!;
    public GenerationEngine AdaptedEngine { get; private set; } = null!;
    public RainDecoder Rain { get; private set; } = null!;
    public OpenAiServer Server { get; private set; } = null!;
    // no client-side deadline: a busy machine makes requests slower, not wrong
    public HttpClient Http { get; } = new() { Timeout = Timeout.InfiniteTimeSpan };
    public Uri V1 => new(Server.Address, "v1/");
    public static readonly IChatFormat Format = TurnFormat.Plain;

    /// <summary>RAIN searches on the base model's engine, in these many of its sequences and cells.</summary>
    private const int RainSequences = 120, RainCells = 4096;

    public static EngineOptions EngineOptions(IReadOnlyList<(LoraAdapter, float)>? lora = null, bool rain = false) => new()
    {
        Context = new ContextOptions
        {
            ContextSize = 4096 + (rain ? RainCells : 0), MaxSequences = 9 + (rain ? RainSequences : 0), LoraAdapters = lora ?? [], Embeddings = rain,
        },
        MaxParallel = 8,
    };

    public async Task InitializeAsync()
    {
        Engine = new GenerationEngine(Model, EngineOptions(rain: true));
        AdaptedEngine = new GenerationEngine(Model, EngineOptions([(LoraAdapter.Load(Model, WriteAdapter()), 1f)]));
        // flash attention off: concurrent RAIN requests share decode calls, and with it a sum depends slightly on what shares the call
        Rain = new RainDecoder(Engine, TestJudges.Harm, new RainOptions { ContextSize = RainCells, StopStrings = Format.StopStrings, FlashAttention = false }, RainSequences);
        Server = new OpenAiServer([new ServedModel(Base, Engine, Format, [new ServedRainJudge("harm", Rain)]), new ServedModel(Adapted, AdaptedEngine, Format)],
            new ServerOptions { Port = 0, MaxQueued = 64 });
        await Server.StartAsync();
        Http.BaseAddress = Server.Address;
    }

    /// <summary>An adapter whose B matrices are random too, so it changes what the model says.</summary>
    private string WriteAdapter()
    {
        var weights = LoraWeights.Create(Model.Gguf, new LoraSettings { Rank = 4 }, seed: 3);
        var rng = new Random(3);
        foreach (var m in weights.Matrices)
            for (var i = 0; i < m.B.Length; i++) m.B[i] = (float)(rng.NextDouble() - 0.5);
        var path = Path.Combine(TestModels.Directory, "server-adapter.gguf");
        weights.Write(path);
        return path;
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Http.Dispose();
        Rain.Dispose();
        AdaptedEngine.Dispose();
        Engine.Dispose();
        Model.Dispose();
    }
}
