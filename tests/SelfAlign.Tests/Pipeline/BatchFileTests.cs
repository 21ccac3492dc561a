using System.Text;
using System.Text.Json.Nodes;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Pipeline;
using SelfAlign.Server;
using SelfAlign.Tests.Testbed;
using Xunit;

namespace SelfAlign.Tests.Pipeline;

/// <summary>
/// The answers stage through OpenAI Batch files: exported, run as <c>vllm run-batch</c> would (each body sent to a served
/// engine, results written with their custom_id), imported in two parts, against the in-process run.
/// </summary>
[Trait("Category", "Slow")]
public class BatchFileTests
{
    [Fact]
    public async Task ExportedRequestsRunElsewhereAndImportedGiveTheInProcessRecords()
    {
        var config = SmallTestbedRun.WriteConfig("batch-files");
        var root = Path.GetDirectoryName(config)!;
        var local = Path.Combine(root, "local");
        await SmallTestbedRun.RunAsync(config, local, new AlignRunOptions { Stages = [AlignStage.Prompts, AlignStage.Answers] });
        var batched = Path.Combine(root, "batched");
        await SmallTestbedRun.RunAsync(config, batched, new AlignRunOptions { Stages = [AlignStage.Prompts] });

        var run = new AlignRun(AlignConfig.Load(config), batched);
        var requests = Path.Combine(root, "requests.jsonl");
        var exported = await run.ExportBatchAsync(AlignStage.Answers, requests, "testbed", new AlignRunOptions());
        var lines = File.ReadAllLines(requests).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(File.ReadAllLines(Path.Combine(local, AlignRun.AnswersFile)).Length, exported);
        Assert.Equal(exported, lines.Count);
        Assert.All(lines, l => Assert.Equal(("POST", "/v1/completions", "testbed"), ((string)l["method"]!, (string)l["url"]!, (string)l["body"]!["model"]!)));
        Assert.Equal(exported, lines.Select(l => (string)l["custom_id"]!).Distinct().Count());
        Assert.False(RunManifest.Open(batched).IsComplete(AlignStage.Answers));

        // vllm run-batch's part: every body to a server, one result line each; the last three fail
        using var model = LlamaModel.Load(TestbedModels.Clean);
        using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 8192, MaxSequences = 17 }, MaxParallel = 16 });
        await using var server = new OpenAiServer([new ServedModel("testbed", engine, TurnFormat.Plain)], new ServerOptions { Port = 0 });
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = Timeout.InfiniteTimeSpan };
        async Task<string> RunBatchAsync(IEnumerable<JsonNode> batch, int failLast)
        {
            var items = batch.ToList();
            var results = await Task.WhenAll(items.Select(async (l, k) =>
            {
                if (k >= items.Count - failLast)
                    return new JsonObject { ["custom_id"] = (string)l["custom_id"]!, ["response"] = null, ["error"] = new JsonObject { ["message"] = "worker lost" } };
                using var response = await http.PostAsync("v1/completions", new StringContent(l["body"]!.ToJsonString(), Encoding.UTF8, "application/json"));
                return new JsonObject
                {
                    ["id"] = $"batch-{k}", ["custom_id"] = (string)l["custom_id"]!,
                    ["response"] = new JsonObject { ["status_code"] = (int)response.StatusCode, ["body"] = JsonNode.Parse(await response.Content.ReadAsStringAsync()) },
                    ["error"] = null,
                };
            }));
            var path = Path.Combine(root, $"results-{items.Count}.jsonl");
            await File.WriteAllLinesAsync(path, results.Select(r => r.ToJsonString()));
            return path;
        }

        var firstResults = await RunBatchAsync(lines, failLast: 3);
        var e = await Assert.ThrowsAsync<InvalidInputException>(() => run.ImportBatchAsync(AlignStage.Answers, firstResults, new AlignRunOptions()));
        Assert.Contains($"3 of {exported} requests have no successful result", e.Message, StringComparison.Ordinal);
        Assert.Equal(exported - 3, File.ReadAllLines(Path.Combine(batched, AlignRun.AnswersFile)).Length);
        Assert.False(RunManifest.Open(batched).IsComplete(AlignStage.Answers));

        // the rest: export what is left, run it, import it
        var again = await run.ExportBatchAsync(AlignStage.Answers, requests, "testbed", new AlignRunOptions());
        Assert.Equal(3, again);
        await run.ImportBatchAsync(AlignStage.Answers, await RunBatchAsync(File.ReadAllLines(requests).Select(l => JsonNode.Parse(l)!), failLast: 0), new AlignRunOptions());
        Assert.True(RunManifest.Open(batched).IsComplete(AlignStage.Answers));

        static Dictionary<string, string> ById(string dir) => File.ReadAllLines(Path.Combine(dir, AlignRun.AnswersFile)).Select(l => JsonNode.Parse(l)!)
            .ToDictionary(r => (string)r["id"]!, r => r["raw"]!.ToJsonString() + r["finish"]!.ToJsonString());
        var (expected, got) = (ById(local), ById(batched));
        Assert.Equal(expected.Keys.Order(), got.Keys.Order());
        Assert.True(expected.Count(kv => got[kv.Key] == kv.Value) >= 0.9 * expected.Count, "batch answers differ from the in-process run's");
    }
}
