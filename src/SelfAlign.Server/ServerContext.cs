using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SelfAlign.Generation;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server;

/// <summary>What every endpoint needs: the served models, the options, the metrics, and the body and error plumbing.</summary>
internal sealed class ServerContext(IReadOnlyList<ServedModel> models, ServerOptions options)
{
    public IReadOnlyList<ServedModel> Models { get; } = models;
    public ServerOptions Options { get; } = options;
    public ServerMetrics Metrics { get; } = new(models);

    /// <summary>The model a request names; the first served model when it names none (404 for an unknown name).</summary>
    public ServedModel Find(string? name) =>
        string.IsNullOrEmpty(name) ? Models[0]
        : Models.FirstOrDefault(m => m.Name == name)
          ?? throw new ApiException(404, $"the model '{name}' does not exist; this server serves {string.Join(", ", Models.Select(m => m.Name))}",
              param: "model", code: "model_not_found");

    /// <summary>The request body, at most <see cref="ServerOptions.MaxRequestBytes"/> (413 above it).</summary>
    public async Task<byte[]> ReadBodyAsync(HttpContext http)
    {
        var limit = Options.MaxRequestBytes;
        if (http.Request.ContentLength > limit) throw TooLarge(limit);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted)) > 0)
        {
            if (buffer.Length + read > limit) throw TooLarge(limit);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    private static ApiException TooLarge(long limit) => new(413, $"the request body is larger than {limit} bytes", code: "request_too_large");

    public static async Task WriteJsonAsync(HttpContext http, int status, object body)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json";
        await JsonSerializer.SerializeAsync(http.Response.Body, body, OpenAiJson.Responses, http.RequestAborted);
    }

    /// <summary>The API's answer to an exception from a handler: the library's verdicts on bad input become 4xx; anything
    /// else is a bug, reported as a 500 without pretending the request was at fault.</summary>
    public static ApiException ToApiError(Exception e) => e switch
    {
        ApiException api => api,
        PromptTooLongException tooLong => new ApiException(413, tooLong.Message, code: "context_length_exceeded"),
        InvalidInputException bad => ApiException.Invalid(bad.Message),
        ObjectDisposedException => new ApiException(503, "the server is shutting down", type: "server_error"),
        _ => new ApiException(500, $"internal error: {e.GetType().Name}: {e.Message}", type: "server_error"),
    };
}
