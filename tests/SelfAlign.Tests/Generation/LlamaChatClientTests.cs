using Microsoft.Extensions.AI;
using SelfAlign.Generation;
using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Generation;

public class LlamaChatClientTests
{
    [Fact]
    public async Task ChatClientAnswersAsTheEngineDoesAndStreamsTheSameText()
    {
        using var model = LlamaModel.Load(TestModels.TinyLlama);
        using var engine = new GenerationEngine(model, new EngineOptions { Context = new ContextOptions { ContextSize = 512, MaxSequences = 2 } });
        IChatClient client = new LlamaChatClient(engine, TurnFormat.Plain);
        var options = new ChatOptions { MaxOutputTokens = 10, Temperature = 0 };
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hello")], options);

        var direct = await engine.GenerateAsync(new GenerationRequest
        {
            Prompt = "### User\nhello\n\n### Assistant\n", MaxNewTokens = 10, StopStrings = TurnFormat.Plain.StopStrings,
        });
        Assert.Equal(direct.Text, response.Text);
        Assert.Equal(direct.Tokens.Count, (int)response.Usage!.OutputTokenCount!);

        var streamed = string.Concat(await client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hello")], options).Select(u => u.Text).ToListAsync());
        Assert.Equal(response.Text, streamed);
        Assert.Same(engine, client.GetService(typeof(GenerationEngine)));
    }
}
