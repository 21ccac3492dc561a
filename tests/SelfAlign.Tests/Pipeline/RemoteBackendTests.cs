using System.Text.Json.Nodes;
using SelfAlign.Pipeline;
using SelfAlign.Remote;
using SelfAlign.Testbed;
using SelfAlign.Tests.Cli;
using SelfAlign.Tests.Testbed;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

/// <summary>Stages 1 and 2 with <c>backend: openai</c> against a <c>selfalign serve</c> process of the same model, against the
/// in-process run: stage 1 sampled under the run's per-request seeds, stage 2 greedy.</summary>
[Trait("Category", "Slow")]
public class RemoteBackendTests
{
    private static async Task<string> RunAsync(string config, string dir, params string[] overrides)
    {
        await SmallTestbedRun.RunAsync(config, dir, new AlignRunOptions { Stages = [AlignStage.Prompts, AlignStage.Answers] }, overrides);
        return dir;
    }

    [Fact]
    public async Task AServedEngineGivesTheRecordsOfTheInProcessRunUnderGreedyDecoding()
    {
        var config = SmallTestbedRun.WriteConfig("remote-backend");
        var local = await RunAsync(config, Path.Combine(Path.GetDirectoryName(config)!, "local"));

        // the engine is another process, reached over HTTP only
        using var serve = await ServeProcess.StartAsync("-m", TestbedModels.Clean, "--name", "testbed", "--parallel", "16", "--ctx-size", "8192");
        var remote = await RunAsync(config, Path.Combine(Path.GetDirectoryName(config)!, "remote"),
            "backend.kind=openai", $"backend.base_url={serve.V1}", "backend.model=testbed", "backend.concurrency=8");
        using var http = new HttpClient { BaseAddress = serve.Address, Timeout = Timeout.InfiniteTimeSpan };
        var metrics = await http.GetStringAsync("metrics");
        var served = metrics.Split('\n').Single(l => l.StartsWith("selfalign_generated_tokens_total{", StringComparison.Ordinal));
        Assert.True(double.Parse(served.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) > 0, "the served engine generated nothing: the run did not use the backend");
        Assert.Equal(0, (await serve.StopAsync()).ExitCode);

        static List<string> Lines(string dir, string file, params string[] keys) =>
            File.ReadAllLines(Path.Combine(dir, file)).Select(l => JsonNode.Parse(l)!)
                .Select(r => string.Join("|", keys.Select(k => r[k]?.ToJsonString() ?? ""))).ToList();
        // every request answered once, in the same order; greedy texts equal but for rare near-ties, which batched
        // decoding in a different batch composition may break the other way
        var expected = Lines(local, AlignRun.SelfInstructFile, "i", "raw", "finish");
        var got = Lines(remote, AlignRun.SelfInstructFile, "i", "raw", "finish");
        Assert.Equal(expected.Count, got.Count);
        Assert.True(expected.Zip(got).Count(p => p.First == p.Second) >= 0.9 * expected.Count, "self-instruct records differ between the in-process and the served run");
        var answers = Lines(local, AlignRun.AnswersFile, "instruction", "raw", "finish");
        var remoteAnswers = Lines(remote, AlignRun.AnswersFile, "instruction", "raw", "finish").ToHashSet();
        Assert.True(answers.Count(remoteAnswers.Contains) >= 0.9 * answers.Count, "answers differ between the in-process and the served run");
    }

    [Fact]
    public async Task ABackendThatDoesNotAnswerIsOneClearErrorAfterBoundedRetries()
    {
        var config = SmallTestbedRun.WriteConfig("remote-backend-down");
        var dir = Path.Combine(Path.GetDirectoryName(config)!, "run");
        var e = await Assert.ThrowsAsync<BackendUnavailableException>(() => RunAsync(config, dir,
            "backend.kind=openai", "backend.base_url=http://127.0.0.1:9/v1", "backend.model=x", "backend.max_retries=1"));
        Assert.Contains("http://127.0.0.1:9/v1", e.Message, StringComparison.Ordinal);
        Assert.Contains("2 times", e.Message, StringComparison.Ordinal);
    }
}
