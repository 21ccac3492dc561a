using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using SelfAlign.Generation;
using SelfAlign.Models;

namespace SelfAlign.Remote;

/// <summary>
/// An <see cref="ITextGenerator"/> that answers nothing: it writes each request as a line of OpenAI's Batch JSONL
/// (<c>custom_id</c>, <c>method</c>, <c>url</c>, <c>body</c>), which <c>vllm run-batch</c> and the OpenAI Batch API take.
/// <see cref="BatchResultsReader"/> later answers the same requests from the results.
/// </summary>
public sealed class BatchRequestWriter(string path, string model, Vocabulary vocabulary) : ITextGenerator
{
    private readonly StreamWriter _out = new(path, append: false);

    public Vocabulary Vocabulary { get; } = vocabulary;
    /// <summary>Lines written so far.</summary>
    public int Written { get; private set; }

    public async IAsyncEnumerable<(int Index, GenerationResult Result)> GenerateBatchAsync(
        IReadOnlyList<GenerationRequest> requests, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var r in requests)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var body = OpenAiCompletionBody.For(r, model, Vocabulary);
            var line = new JsonObject { ["custom_id"] = OpenAiCompletionBody.CustomId(body), ["method"] = "POST", ["url"] = "/v1/completions", ["body"] = body };
            await _out.WriteLineAsync(line.ToJsonString().AsMemory(), cancellationToken);
            Written++;
        }
        await _out.FlushAsync(cancellationToken);
        yield break;
    }

    public void Dispose() => _out.Dispose();
}
