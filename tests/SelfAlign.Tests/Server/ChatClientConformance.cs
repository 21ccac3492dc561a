using Microsoft.Extensions.AI;
using OpenAI;
using SelfAlign.Generation;
using Xunit;

namespace SelfAlign.Tests.Server;

/// <summary>
/// What any SelfAlign <see cref="IChatClient"/> must do, in-process or over HTTP: the same greedy answer as the engine, streaming
/// equal to a whole answer, stop sequences, seeds (a set seed repeats, an unset one is fresh), cancellation, usage, finish
/// reasons and options honoured.
/// </summary>
public abstract class ChatClientConformance(ServerFixture f)
{
    protected ServerFixture Fixture { get; } = f;
    protected abstract IChatClient Client { get; }

    private static List<ChatMessage> Ask(string text) => [new(ChatRole.User, text)];

    private Task<GenerationResult> Direct(string user, int max, string? system = null) => Fixture.Engine.GenerateAsync(new GenerationRequest
    {
        Prompt = ServerFixture.Format.Format([.. system is null ? Array.Empty<ChatTurn>() : [new ChatTurn("system", system)], new ChatTurn("user", user)]),
        MaxNewTokens = max, StopStrings = ServerFixture.Format.StopStrings,
    });

    [Fact]
    public async Task GreedyAnswerIsTheEnginesWithUsageAndFinishReason()
    {
        var response = await Client.GetResponseAsync(Ask("What is rain?"), new ChatOptions { Temperature = 0, MaxOutputTokens = 9 });
        var direct = await Direct("What is rain?", 9);
        Assert.Equal(direct.Text, response.Text);
        Assert.Equal(ChatRole.Assistant, response.Messages[^1].Role);
        Assert.Equal(direct.PromptTokenCount, (int)response.Usage!.InputTokenCount!);
        Assert.Equal(direct.Tokens.Count, (int)response.Usage.OutputTokenCount!);
        Assert.Equal(direct.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task InstructionsBecomeASystemTurn()
    {
        var response = await Client.GetResponseAsync(Ask("hello"), new ChatOptions { Temperature = 0, MaxOutputTokens = 6, Instructions = "Be brief." });
        var direct = await Direct("hello", 6, system: "Be brief.");
        Assert.Equal(direct.Text, response.Text);
        Assert.Equal(direct.PromptTokenCount, (int)response.Usage!.InputTokenCount!);
    }

    [Fact]
    public async Task StreamingEqualsTheWholeAnswerUnderTheSameSeed()
    {
        var options = new ChatOptions { Temperature = 1, Seed = 21, MaxOutputTokens = 14 };
        var whole = await Client.GetResponseAsync(Ask("Describe a river."), options);
        var updates = await Client.GetStreamingResponseAsync(Ask("Describe a river."), options).ToListAsync();
        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(whole.FinishReason, updates.Select(u => u.FinishReason).Last(r => r is not null));
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single();
        Assert.Equal(whole.Usage!.OutputTokenCount, usage.Details.OutputTokenCount);
    }

    [Fact]
    public async Task StopSequencesEndTheAnswerBeforeThem()
    {
        var free = await Client.GetResponseAsync(Ask("Count to ten."), new ChatOptions { Temperature = 0, MaxOutputTokens = 24 });
        var stop = free.Text.Substring(free.Text.Length / 2, 2);
        var stopped = await Client.GetResponseAsync(Ask("Count to ten."), new ChatOptions { Temperature = 0, MaxOutputTokens = 24, StopSequences = [stop] });
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
    }

    [Fact]
    public async Task ASetSeedRepeatsAndAnUnsetSeedIsFresh()
    {
        ChatOptions Options(long? seed) => new() { Temperature = 1.5f, Seed = seed, MaxOutputTokens = 16 };
        var a = await Client.GetResponseAsync(Ask("Say something."), Options(7));
        var b = await Client.GetResponseAsync(Ask("Say something."), Options(7));
        Assert.Equal(a.Text, b.Text);
        var unseeded = new List<string>();
        for (var i = 0; i < 3; i++) unseeded.Add((await Client.GetResponseAsync(Ask("Say something."), Options(null))).Text);
        Assert.True(unseeded.Distinct().Count() > 1, "three unseeded samples came out the same: the seed is fixed");
    }

    [Fact]
    public async Task GreedyIgnoresTheSeedAndMaxOutputTokensIsHonoured()
    {
        var a = await Client.GetResponseAsync(Ask("Why?"), new ChatOptions { Temperature = 0, Seed = 1, MaxOutputTokens = 5 });
        var b = await Client.GetResponseAsync(Ask("Why?"), new ChatOptions { Temperature = 0, Seed = 2, MaxOutputTokens = 5 });
        Assert.Equal(a.Text, b.Text);
        Assert.True(a.Usage!.OutputTokenCount <= 5);
    }

    [Fact]
    public async Task CancellationStopsTheRequest()
    {
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.GetResponseAsync(Ask("hi"), new ChatOptions { MaxOutputTokens = 4 }, cancelled.Token));

        using var midway = new CancellationTokenSource();
        var received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in Client.GetStreamingResponseAsync(Ask("Go on and on."), new ChatOptions { MaxOutputTokens = 400 }, midway.Token))
                if (++received == 2) await midway.CancelAsync();
        });
        Assert.Equal(2, received);
    }
}

public sealed class LlamaChatClientConformance(ServerFixture f) : ChatClientConformance(f), IClassFixture<ServerFixture>
{
    protected override IChatClient Client { get; } = new LlamaChatClient(f.Engine, ServerFixture.Format);
}

/// <summary>The same suite through Microsoft.Extensions.AI's OpenAI client against <c>selfalign serve</c>.</summary>
public sealed class ServerChatClientConformance(ServerFixture f) : ChatClientConformance(f), IClassFixture<ServerFixture>
{
    protected override IChatClient Client { get; } = new OpenAI.Chat.ChatClient(ServerFixture.Base, new System.ClientModel.ApiKeyCredential("unused"),
        new OpenAIClientOptions { Endpoint = f.V1, NetworkTimeout = Timeout.InfiniteTimeSpan }).AsIChatClient();
}
