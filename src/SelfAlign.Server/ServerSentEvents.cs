using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server;

/// <summary>A streamed response: one <c>data:</c> event per chunk, flushed at once, ended by <c>data: [DONE]</c>.</summary>
internal sealed class ServerSentEvents
{
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private readonly HttpResponse _response;
    private readonly CancellationToken _ct;

    private ServerSentEvents(HttpContext http) => (_response, _ct) = (http.Response, http.RequestAborted);

    public static async Task<ServerSentEvents> StartAsync(HttpContext http)
    {
        http.Response.StatusCode = 200;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        await http.Response.StartAsync(http.RequestAborted);
        return new ServerSentEvents(http);
    }

    public async Task SendAsync(object chunk)
    {
        await _response.Body.WriteAsync("data: "u8.ToArray(), _ct);
        await JsonSerializer.SerializeAsync(_response.Body, chunk, OpenAiJson.Responses, _ct);
        await _response.Body.WriteAsync("\n\n"u8.ToArray(), _ct);
        await _response.Body.FlushAsync(_ct);
    }

    public async Task DoneAsync()
    {
        await _response.Body.WriteAsync(Done, _ct);
        await _response.Body.FlushAsync(_ct);
    }

    /// <summary>An error after the stream began: it goes out as an event of OpenAI's error shape, then the stream ends.</summary>
    public async Task FailAsync(ApiException e)
    {
        await SendAsync(OpenAiJson.Error(e));
        await DoneAsync();
    }
}
