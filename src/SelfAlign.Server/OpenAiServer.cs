using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SelfAlign.Server.Endpoints;
using SelfAlign.Server.Protocol;

namespace SelfAlign.Server;

/// <summary>
/// An OpenAI-compatible HTTP server over SelfAlign's engines (ASP.NET Core's Kestrel): <c>/v1/models</c>,
/// <c>/v1/chat/completions</c>, <c>/v1/completions</c>, <c>/health</c> and Prometheus <c>/metrics</c>. Every completion goes
/// through its model's engine loop, so concurrent requests share decode calls. JSON lives here only; the engines see
/// <see cref="Generation.GenerationRequest"/>s. The served models belong to the caller.
/// </summary>
public sealed partial class OpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServerContext _server;
    private readonly CancellationTokenSource _stop = new();
    private Task _sampler = Task.CompletedTask;
    private volatile bool _stopping;

    public OpenAiServer(IReadOnlyList<ServedModel> models, ServerOptions? options = null, ILoggerProvider? logging = null)
    {
        options ??= new ServerOptions();
        options.Validate();
        if (models.Count == 0) throw new InvalidInputException("the server needs at least one model");
        if (models.Select(m => m.Name).Distinct(StringComparer.Ordinal).Count() != models.Count)
            throw new InvalidInputException($"two served models have the same name: {string.Join(", ", models.Select(m => m.Name))}");
        foreach (var m in models)
        {
            var parallel = m.Engine.Options.MaxParallel > 0 ? m.Engine.Options.MaxParallel : m.Engine.Options.Context.MaxSequences;
            m.Gate = new RequestGate(parallel + options.MaxQueued);
        }
        _server = new ServerContext(models, options);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (logging != null) builder.Logging.AddProvider(logging);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxRequestBytes;
            if (IPAddress.TryParse(options.Host, out var ip)) k.Listen(ip, options.Port);
            else if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else throw new InvalidInputException($"--host must be an IP address or localhost (got '{options.Host}')");
        });
        _app = builder.Build();
        Map(_app, models);
    }

    /// <summary>The address the server listens on (its real port when <see cref="ServerOptions.Port"/> was 0); set by <see cref="StartAsync"/>.</summary>
    public Uri Address { get; private set; } = new("http://127.0.0.1/");

    /// <exception cref="IOException">the port is taken.</exception>
    public async Task StartAsync(CancellationToken ct = default)
    {
        await _app.StartAsync(ct);
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(address.Replace("[::]", "localhost", StringComparison.Ordinal) + "/");
        _sampler = SampleAsync(_stop.Token);
    }

    /// <summary>Stops taking requests, lets running ones finish (for at most <paramref name="grace"/>), then stops.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        _stopping = true;
        using var timeout = new CancellationTokenSource(grace);
        await _app.StopAsync(timeout.Token);
        await _stop.CancelAsync();
        await _sampler;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping) await StopAsync(TimeSpan.FromSeconds(5));
        await _app.DisposeAsync();
        _stop.Dispose();
    }

    private async Task SampleAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            do _server.Metrics.Sample();
            while (await timer.WaitForNextTickAsync(ct));
        }
        catch (OperationCanceledException) { }
    }

    private void Map(WebApplication app, IReadOnlyList<ServedModel> models)
    {
        var chat = new ChatCompletionsEndpoint(_server);
        var completions = new CompletionsEndpoint(_server);
        var list = new ModelsEndpoint(_server, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        app.MapPost("/v1/chat/completions", http => Api(http, "chat", () => chat.HandleAsync(http)));
        app.MapPost("/v1/completions", http => Api(http, "completions", () => completions.HandleAsync(http)));
        app.MapGet("/v1/models", http => Api(http, "models", () => list.ListAsync(http)));
        app.MapGet("/v1/models/{id}", (HttpContext http, string id) => Api(http, "models", () => list.GetAsync(http, id)));
        app.MapGet("/health", http => _stopping
            ? ServerContext.WriteJsonAsync(http, 503, new { Status = "stopping" })
            : ServerContext.WriteJsonAsync(http, 200, new { Status = "ok", Models = models.Select(m => m.Name) }));
        app.MapGet("/metrics", http =>
        {
            http.Response.ContentType = "text/plain; version=0.0.4";
            return http.Response.WriteAsync(_server.Metrics.Render(), http.RequestAborted);
        });
        app.MapFallback(http => Api(http, "other", () => throw new ApiException(404, $"no route {http.Request.Method} {http.Request.Path}", code: "not_found")));
    }

    /// <summary>Runs a handler and answers its refusal in OpenAI's error shape; a client that went away is not answered.</summary>
    private async Task Api(HttpContext http, string endpoint, Func<Task> handler)
    {
        try
        {
            if (_stopping) throw new ApiException(503, "the server is shutting down", type: "server_error");
            await handler();
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            http.Response.StatusCode = 499; // nginx's "client closed request": counted, never sent
        }
        catch (Exception e) when (!http.Response.HasStarted)
        {
            var error = ServerContext.ToApiError(e);
            if (error.Status == 429) http.Response.Headers.RetryAfter = "1";
            if (error.Status >= 500) LogFailure(_app.Logger, e, endpoint);
            await ServerContext.WriteJsonAsync(http, error.Status, OpenAiJson.Error(error));
        }
        finally
        {
            _server.Metrics.CountRequest(endpoint, http.Response.StatusCode);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "a {Endpoint} request failed")]
    private static partial void LogFailure(ILogger logger, Exception e, string endpoint);
}
