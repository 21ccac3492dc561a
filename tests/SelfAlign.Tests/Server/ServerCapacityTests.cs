using System.Net;
using System.Text;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Server;
using Xunit;

namespace SelfAlign.Tests.Server;

/// <summary>A server with room for one completion: the queue bound answers 429, and a client that goes away frees its slot.</summary>
public sealed class ServerCapacityTests : IAsyncLifetime
{
    private readonly LlamaModel _model = LlamaModel.Load(TestModels.TinyLlama);
    // set by InitializeAsync, released by DisposeAsync (xunit's async lifetime)
    private GenerationEngine Engine { get; set; } = null!;
    private OpenAiServer Server { get; set; } = null!;
    private HttpClient Http { get; } = new() { Timeout = Timeout.InfiniteTimeSpan };

    public async Task InitializeAsync()
    {
        Engine = new GenerationEngine(_model, new EngineOptions { Context = new ContextOptions { ContextSize = 1024, MaxSequences = 2 }, MaxParallel = 1 });
        Server = new OpenAiServer([new ServedModel("tiny", Engine, TurnFormat.Plain)], new ServerOptions { Port = 0, MaxQueued = 0 });
        await Server.StartAsync();
        Http.BaseAddress = Server.Address;
    }

    /// <summary>A stream of about 1.5 MB (20 alternatives per token) that the test does not read: once the socket buffers fill,
    /// the server's writes wait, so the completion holds its place however fast the model is.</summary>
    private string LongRequest() =>
        $$$"""{"messages":[{"role":"user","content":"go on"}],"max_tokens":900,"stream":true,"logprobs":true,"top_logprobs":20,"logit_bias":{"{{{_model.Vocabulary.Eos}}}":-100}}""";

    [Fact]
    public async Task AFullQueueAnswers429AndADisconnectedClientFreesItsSlot()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new StringContent(LongRequest(), Encoding.UTF8, "application/json") };
        var streaming = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, streaming.StatusCode);
        var reader = new StreamReader(await streaming.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync(), StringComparison.Ordinal);

        using (var refused = await Http.PostAsync("v1/completions", new StringContent("""{"prompt":"me too","max_tokens":2}""")))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
            Assert.Contains("\"queue_full\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // the client goes away mid-stream: its sequence is cancelled long before its 900 tokens
        streaming.Dispose();
        for (var i = 0; i < 600 && (Engine.Load.Running > 0 || (await Http.GetStringAsync("metrics")).Contains("selfalign_requests_in_flight{model=\"tiny\"} 1", StringComparison.Ordinal)); i++)
            await Task.Delay(100);
        Assert.Equal(0, Engine.Load.Running);
        Assert.InRange(Engine.Load.TokensGenerated, 1, 899);

        using var served = await Http.PostAsync("v1/completions", new StringContent("""{"prompt":"me too","max_tokens":2}"""));
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Contains("selfalign_rejected_total 1", await Http.GetStringAsync("metrics"), StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Http.Dispose();
        Engine.Dispose();
        _model.Dispose();
    }
}
