using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace SelfAlign.Tests.Cli;

/// <summary><c>selfalign serve</c> as a process: it listens, answers, stops cleanly on SIGTERM, and refuses bad options with exit 2.</summary>
public class ServeCommandTests
{
    [Fact]
    public async Task ServesUntilSigtermThenExitsCleanly()
    {
        using var serve = await ServeProcess.StartAsync("-m", TestModels.TinyLlama, "--parallel", "4", "--ctx-size", "2048");
        using var http = new HttpClient { BaseAddress = serve.Address, Timeout = Timeout.InfiniteTimeSpan };
        var models = await http.GetFromJsonAsync<JsonNode>("v1/models");
        Assert.Equal("tiny-llama", (string)models!["data"]![0]!["id"]!);
        using var answer = await http.PostAsJsonAsync("v1/chat/completions", new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 3 });
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        var (code, stderr) = await serve.StopAsync();
        Assert.True(code == 0, stderr);
    }

    [Theory]
    [InlineData("--port", "70000", "port must be in 0..65535")]
    [InlineData("--adapter", "nameless.gguf", "is not NAME=A.gguf")]
    [InlineData("--adapter", "x=missing.gguf", "adapter file not found")]
    [InlineData("--parallel", "0", "--parallel must be positive")]
    [InlineData("--host", "not-an-address", "--host must be an IP address")]
    public void BadOptionsAreOneLineAndExitCode2(string option, string value, string message)
    {
        var o = CliProcess.Run("serve", "-m", TestModels.TinyLlama, option, value);
        Assert.Equal(2, o.ExitCode);
        Assert.Contains(message, o.Stderr, StringComparison.Ordinal);
        Assert.Single(o.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task APortInUseIsBadInputNotACrash()
    {
        using var first = await ServeProcess.StartAsync("-m", TestModels.TinyLlama, "--ctx-size", "1024");
        var o = CliProcess.Run("serve", "-m", TestModels.TinyLlama, "--ctx-size", "1024", "--port", first.Address.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(2, o.ExitCode);
        Assert.Contains("cannot listen on", o.Stderr, StringComparison.Ordinal);
        await first.StopAsync();
    }
}
