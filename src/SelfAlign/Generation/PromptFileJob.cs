using System.Text.Json.Nodes;
using SelfAlign.Data;

namespace SelfAlign.Generation;

/// <summary>
/// Answers every prompt of a JSONL file (<c>{"prompt": ..., "id"?: ...}</c>) and appends one result line per
/// prompt to an output JSONL as each finishes. Run again after a kill, it skips prompts already answered
/// (by id, or line number when there is none) and drops a half-written last line: nothing lost, nothing repeated.
/// </summary>
public sealed class PromptFileJob(GenerationEngine engine, Func<string, GenerationRequest> makeRequest)
{
    public sealed record Progress(int Done, int Total, int Skipped, long TokensGenerated);

    /// <summary>Reads and validates every input line before generating anything.</summary>
    public static List<(string Id, string Prompt)> ReadPrompts(string path) =>
        JsonlFile.Read(path).Select(r =>
        {
            var prompt = JsonlFile.RequireString(r.Record, "prompt", path, r.Line);
            var id = r.Record["id"]?.ToString() ?? $"line-{r.Line}";
            return (id, prompt);
        }).ToList();

    /// <summary>Answers the prompts of <see cref="ReadPrompts"/> not yet in <paramref name="outputPath"/>.</summary>
    public async Task<Progress> RunAsync(IReadOnlyList<(string Id, string Prompt)> prompts, string outputPath, Action<Progress>? onProgress, CancellationToken ct)
    {
        var todo = JsonlFile.Remaining(outputPath, prompts, p => p.Id);
        var requests = todo.Select(p => makeRequest(p.Prompt)).ToList();

        using var writer = new JsonlWriter(outputPath);
        var progress = new Progress(prompts.Count - todo.Count, prompts.Count, prompts.Count - todo.Count, 0);
        onProgress?.Invoke(progress);
        await foreach (var (i, result) in engine.GenerateBatchAsync(requests, ct))
        {
            writer.Write(new JsonObject
            {
                ["id"] = todo[i].Id,
                ["prompt"] = todo[i].Prompt,
                ["text"] = result.Text,
                ["finish_reason"] = result.FinishReason.ToString(),
                ["prompt_tokens"] = result.PromptTokenCount,
                ["generated_tokens"] = result.Tokens.Count,
            });
            progress = progress with { Done = progress.Done + 1, TokensGenerated = progress.TokensGenerated + result.Tokens.Count };
            onProgress?.Invoke(progress);
        }
        return progress;
    }
}
