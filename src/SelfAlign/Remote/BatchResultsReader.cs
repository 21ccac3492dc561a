using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using SelfAlign.Data;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Remote;

/// <summary>
/// An <see cref="ITextGenerator"/> that answers from a Batch results file (lines of <c>custom_id</c>,
/// <c>response: {status_code, body}</c>, <c>error</c>, as <c>vllm run-batch</c> and the OpenAI Batch API write them): each
/// request is found by the id <see cref="BatchRequestWriter"/> gave it. The requests with a result are answered first;
/// then, if any have none (a failed or missing line), one error says how many, and the stage stays unfinished so that
/// its remaining requests can be exported and imported again.
/// </summary>
public sealed class BatchResultsReader : ITextGenerator
{
    private readonly string _path;
    private readonly Dictionary<string, JsonNode> _bodies = new(StringComparer.Ordinal);
    private readonly int _failed;

    /// <exception cref="InvalidInputException">a line is not JSON or has no custom_id (file and line named).</exception>
    public BatchResultsReader(string path, Vocabulary vocabulary)
    {
        _path = path;
        Vocabulary = vocabulary;
        foreach (var (line, record) in JsonlFile.Read(path))
        {
            var id = JsonlFile.RequireString(record, "custom_id", path, line);
            var status = (int?)record["response"]?["status_code"];
            if (record["error"] is { } e && e.GetValueKind() != System.Text.Json.JsonValueKind.Null || status != 200 || record["response"]?["body"] is not { } body)
            {
                _failed++;
                continue;
            }
            _bodies[id] = body;
        }
    }

    public Vocabulary Vocabulary { get; }

    public async IAsyncEnumerable<(int Index, GenerationResult Result)> GenerateBatchAsync(
        IReadOnlyList<GenerationRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var missing = 0;
        for (var i = 0; i < requests.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_bodies.TryGetValue(OpenAiCompletionBody.CustomId(OpenAiCompletionBody.For(requests[i], "", Vocabulary)), out var body))
                yield return (i, OpenAiCompletionBody.Result(body, Vocabulary, TimeSpan.Zero, _path,
                    requests[i].PromptLogProbabilities ? (requests[i].SharedPrefix ?? "") + requests[i].Prompt : null));
            else missing++;
        }
        await Task.CompletedTask;
        if (missing > 0)
            throw new InvalidInputException($"{_path}: {missing} of {requests.Count} requests have no successful result ({_failed} lines failed); " +
                                            "export the stage's remaining requests with align export-batch, run them, and import again");
    }

    public void Dispose() { }
}
