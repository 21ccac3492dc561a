using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;
using SelfAlign.Generation;
using Xunit;

namespace SelfAlign.Tests.Server;

/// <summary>The server driven over loopback by OpenAI's official .NET client and by raw HTTP, against the in-process engine.</summary>
public class OpenAiServerTests(ServerFixture f) : IClassFixture<ServerFixture>
{
    private ChatClient Client(string model = ServerFixture.Base) =>
        new(model, new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = f.V1, NetworkTimeout = Timeout.InfiniteTimeSpan });

    private static string Formatted(string user) => ServerFixture.Format.Format([new ChatTurn("user", user)]);

    private async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(string path, string json)
    {
        using var response = await f.Http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task TheOfficialClientGetsTheEnginesGreedyAnswerWithUsageAndFinishReason()
    {
        ChatCompletion c = await Client().CompleteChatAsync([new UserChatMessage("Name a colour.")], new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 });
        var direct = await f.Engine.GenerateAsync(new GenerationRequest { Prompt = Formatted("Name a colour."), MaxNewTokens = 12, StopStrings = ServerFixture.Format.StopStrings });
        Assert.Equal(direct.Text, c.Content[0].Text);
        Assert.Equal(direct.PromptTokenCount, c.Usage.InputTokenCount);
        Assert.Equal(direct.Tokens.Count, c.Usage.OutputTokenCount);
        Assert.Equal(direct.FinishReason == FinishReason.Length ? OpenAI.Chat.ChatFinishReason.Length : OpenAI.Chat.ChatFinishReason.Stop, c.FinishReason);
        Assert.Equal(ServerFixture.Base, c.Model);
    }

    [Fact]
    public async Task StreamingGivesTheSameTextAsAWholeAnswerUnderTheSameSeed()
    {
#pragma warning disable OPENAI001 // the seed option is marked experimental in the client
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 16, Temperature = 1, Seed = 11 };
#pragma warning restore OPENAI001
        ChatCompletion whole = await Client().CompleteChatAsync([new UserChatMessage("Tell me a story.")], options);
        var text = new StringBuilder();
        OpenAI.Chat.ChatFinishReason? reason = null;
        ChatTokenUsage? usage = null;
        await foreach (var u in Client().CompleteChatStreamingAsync([new UserChatMessage("Tell me a story.")], options))
        {
            foreach (var part in u.ContentUpdate) text.Append(part.Text);
            reason ??= u.FinishReason;
            usage ??= u.Usage;
        }
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.FinishReason, reason);
        Assert.Equal(whole.Usage.OutputTokenCount, usage!.OutputTokenCount);
    }

    [Fact]
    public async Task NChoicesAreSeededApartAndReproducible()
    {
        const string body = """{"messages":[{"role":"user","content":"Pick a word."}],"n":3,"seed":5,"temperature":1.5,"max_tokens":10}""";
        var (status, first) = await PostAsync("v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.OK, status);
        var texts = first["choices"]!.AsArray().Select(c => (string)c!["message"]!["content"]!).ToList();
        Assert.Equal(3, texts.Count);
        Assert.True(texts.Distinct().Count() > 1, "three choices of one request came out the same");
        var (_, again) = await PostAsync("v1/chat/completions", body);
        Assert.Equal(texts, again["choices"]!.AsArray().Select(c => (string)c!["message"]!["content"]!));
        // the prompt is counted once, the choices' tokens all
        Assert.Equal(f.Engine.TokenizePrompt(new GenerationRequest { Prompt = Formatted("Pick a word.") }).Suffix.Length, (int)first["usage"]!["prompt_tokens"]!);
        Assert.InRange((int)first["usage"]!["completion_tokens"]!, 3 + texts.Count(t => t.Length > 0) - 1, 30);
    }

    [Fact]
    public async Task EchoWithLogprobsScoresThePromptAsTheEnginesScoringDoes()
    {
        const string context = "The capital of France is", continuation = " Paris";
        var (status, body) = await PostAsync("v1/completions",
            JsonSerializer.Serialize(new { prompt = context + continuation, max_tokens = 0, echo = true, logprobs = 1 }));
        Assert.Equal(HttpStatusCode.OK, status);
        var choice = body["choices"]![0]!;
        Assert.Equal(context + continuation, (string)choice["text"]!);
        var lps = choice["logprobs"]!["token_logprobs"]!.AsArray();
        Assert.Null(lps[0]);
        Assert.Equal(0, (int)body["usage"]!["completion_tokens"]!);

        var scored = (await f.Engine.ScoreAsync([new ScoringRequest(context, continuation)]))[0];
        var tail = lps.Skip(lps.Count - scored.Tokens.Count).Select(n => (double)n!).ToList();
        Assert.Equal(scored.LogProbability, tail.Sum(), 3);
        Assert.All(choice["logprobs"]!["top_logprobs"]!.AsArray().Skip(1), t => Assert.Single(t!.AsObject()));
    }

    [Fact]
    public async Task ChatLogprobsReportTheChosenTokenAndItsAlternatives()
    {
        var (status, body) = await PostAsync("v1/chat/completions",
            """{"messages":[{"role":"user","content":"hi"}],"max_tokens":6,"temperature":0,"logprobs":true,"top_logprobs":3}""");
        Assert.Equal(HttpStatusCode.OK, status);
        var content = body["choices"]![0]!["logprobs"]!["content"]!.AsArray();
        Assert.Equal((int)body["usage"]!["completion_tokens"]!, content.Count);
        foreach (var t in content)
        {
            var top = t!["top_logprobs"]!.AsArray();
            Assert.Equal(3, top.Count);
            Assert.Equal((float)t["logprob"]!, (float)top[0]!["logprob"]!);
            Assert.True((float)t["logprob"]! <= 0);
        }
    }

    [Fact]
    public async Task StopStringsAndLogitBiasAreHonoured()
    {
        var free = await PostAsync("v1/completions", """{"prompt":"one two three","max_tokens":24,"temperature":0}""");
        var text = (string)free.Body["choices"]![0]!["text"]!;
        var stop = text.Substring(text.Length / 2, 2);
        var stopped = await PostAsync("v1/completions", JsonSerializer.Serialize(new { prompt = "one two three", max_tokens = 24, temperature = 0, stop = new[] { stop } }));
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], (string)stopped.Body["choices"]![0]!["text"]!);
        Assert.Equal("stop", (string)stopped.Body["choices"]![0]!["finish_reason"]!);

        var token = f.Model.Vocabulary.Tokenize(" zebra", addSpecial: false)[0];
        var biased = await PostAsync("v1/completions", $$$"""{"prompt":"one two three","max_tokens":4,"temperature":0,"logit_bias":{"{{{token}}}":100}}""");
        var piece = Encoding.UTF8.GetString(f.Model.Vocabulary.TokenBytes(token));
        Assert.Equal(string.Concat(Enumerable.Repeat(piece, 4)), (string)biased.Body["choices"]![0]!["text"]!);
    }

    [Fact]
    public async Task TheModelFieldChoosesTheAdapter()
    {
        var models = (await f.Http.GetFromJsonAsync<JsonNode>("v1/models"))!["data"]!.AsArray().Select(m => (string)m!["id"]!);
        Assert.Equal([ServerFixture.Base, ServerFixture.Adapted], models);
        ChatCompletion plain = await Client().CompleteChatAsync([new UserChatMessage("hello")], new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 });
        ChatCompletion adapted = await Client(ServerFixture.Adapted).CompleteChatAsync([new UserChatMessage("hello")], new ChatCompletionOptions { MaxOutputTokenCount = 10, Temperature = 0 });
        var direct = await f.AdaptedEngine.GenerateAsync(new GenerationRequest { Prompt = Formatted("hello"), MaxNewTokens = 10, StopStrings = ServerFixture.Format.StopStrings });
        Assert.Equal(direct.Text, adapted.Content[0].Text);
        Assert.NotEqual(plain.Content[0].Text, adapted.Content[0].Text);
    }

    [Fact]
    public async Task RainPerRequestSearchesAndIsReproducibleUnderASeed()
    {
        const string body = """{"messages":[{"role":"user","content":"How do I bake bread?"}],"max_tokens":6,"seed":3,"rain":{"min_iterations":1,"max_iterations":3}}""";
        var (status, first) = await PostAsync("v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, second) = await PostAsync("v1/chat/completions", body);
        Assert.Equal((string)first["choices"]![0]!["message"]!["content"]!, (string)second["choices"]![0]!["message"]!["content"]!);
        Assert.InRange((int)first["usage"]!["completion_tokens"]!, 1, 6);

        var (refused, error) = await PostAsync("v1/chat/completions", body.Replace("\"max_tokens\"", "\"model\":\"tiny-lora\",\"max_tokens\"", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused);
        Assert.Contains("without RAIN", (string)error["error"]!["message"]!, StringComparison.Ordinal);

        // the judge by name: the default one named gives the same search; an unknown one is refused
        var (named, third) = await PostAsync("v1/chat/completions", body.Replace("\"max_iterations\":3", "\"max_iterations\":3,\"judge\":\"harm\"", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, named);
        Assert.Equal((string)first["choices"]![0]!["message"]!["content"]!, (string)third["choices"]![0]!["message"]!["content"]!);
        var (unknown, why) = await PostAsync("v1/chat/completions", body.Replace("\"max_iterations\":3", "\"max_iterations\":3,\"judge\":\"truth\"", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unknown);
        Assert.Contains("no RAIN judge 'truth'", (string)why["error"]!["message"]!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrentRainRequestsAreSearchedTogetherAndAnswerAsEachAlone()
    {
        static string Body(int i) => "{\"messages\":[{\"role\":\"user\",\"content\":\"Question number " + i + "?\"}],\"max_tokens\":8,\"seed\":" + (40 + i) +
                                     ",\"rain\":{\"min_iterations\":2,\"max_iterations\":6}}";
        var together = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => PostAsync("v1/chat/completions", Body(i))));
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, together[i].Item1);
            var (_, alone) = await PostAsync("v1/chat/completions", Body(i));
            Assert.Equal((string)alone["choices"]![0]!["message"]!["content"]!, (string)together[i].Item2["choices"]![0]!["message"]!["content"]!);
        }
    }

    [Theory]
    [InlineData("v1/chat/completions", "{not json", 400, null)]
    [InlineData("v1/chat/completions", """{"messages":[{"role":"user","content":"x"}],"temprature":1}""", 400, null)]
    [InlineData("v1/chat/completions", """{"messages":[{"role":"user","content":"x"}],"temperature":5}""", 422, null)]
    [InlineData("v1/chat/completions", """{"messages":[]}""", 422, null)]
    [InlineData("v1/chat/completions", """{"messages":[{"role":"tool","content":"x"}]}""", 422, null)]
    [InlineData("v1/chat/completions", """{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function"}]}""", 422, null)]
    [InlineData("v1/chat/completions", """{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}""", 404, "model_not_found")]
    [InlineData("v1/chat/completions", """{"messages":[{"role":"user","content":"x"}],"max_tokens":100000000}""", 413, "context_length_exceeded")]
    [InlineData("v1/completions", """{"prompt":"x","logit_bias":{"99999999":1}}""", 422, null)]
    [InlineData("v1/completions", """{"prompt":[1,2,3]}""", 422, null)]
    [InlineData("v1/completions", """{"prompt":"x","max_tokens":0}""", 422, null)]
    [InlineData("v1/nowhere", "{}", 404, "not_found")]
    public async Task BadRequestsGetOpenAisErrorShapeAndTheServerKeepsServing(string path, string json, int status, string? code)
    {
        var (got, body) = await PostAsync(path, json);
        Assert.Equal(status, (int)got);
        Assert.False(string.IsNullOrEmpty((string)body["error"]!["message"]!));
        Assert.Equal(code, (string?)body["error"]!["code"]);
        var ok = await PostAsync("v1/completions", """{"prompt":"still there?","max_tokens":2}""");
        Assert.Equal(HttpStatusCode.OK, ok.Status);
    }

    [Fact]
    public async Task InvalidUtf8AndOversizedBodiesAreRefused()
    {
        var bytes = "{\"prompt\":\"a\xff\"}"u8.ToArray();
        bytes[bytes.Length - 3] = 0xC3; // a lone lead byte: not UTF-8
        using var bad = await f.Http.PostAsync("v1/completions", new ByteArrayContent(bytes));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        var huge = "{\"prompt\":\"" + new string('a', 9 << 20) + "\"}";
        // as a careful client sends a large body: the server refuses it before the body is sent
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(huge) };
        request.Headers.ExpectContinue = true;
        using var large = await f.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
    }

    [Fact]
    public async Task HealthAndMetricsReportTheEngines()
    {
        await PostAsync("v1/completions", """{"prompt":"count me","max_tokens":3}""");
        Assert.Equal("ok", (string)(await f.Http.GetFromJsonAsync<JsonNode>("health"))!["status"]!);
        var metrics = await f.Http.GetStringAsync("metrics");
        var generated = metrics.Split('\n').Single(l => l.StartsWith("selfalign_generated_tokens_total{model=\"tiny\"}", StringComparison.Ordinal));
        Assert.True(long.Parse(generated.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 3);
        Assert.Contains("selfalign_http_requests_total{endpoint=\"completions\",status=\"200\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE selfalign_queue_depth gauge", metrics, StringComparison.Ordinal);
        Assert.Contains("selfalign_rain_searching{model=\"tiny\",judge=\"harm\"} 0", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("selfalign_rain_waiting{model=\"tiny-lora\"", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SixtyFourConcurrentStreamingClientsEachGetTheirOwnAnswer()
    {
        var prompts = Enumerable.Range(0, 64).Select(i => $"Client {i} asks about item {i * 5}.").ToList();
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 12, Temperature = 0 };
        options.LogitBiases[f.Model.Vocabulary.Eos] = -100;
        var streams = prompts.Select(async p =>
        {
            var text = new StringBuilder();
            ChatTokenUsage? usage = null;
            await foreach (var u in Client().CompleteChatStreamingAsync([new UserChatMessage(p)], options))
            {
                foreach (var part in u.ContentUpdate) text.Append(part.Text);
                usage ??= u.Usage;
            }
            return (Text: text.ToString(), Tokens: usage!.OutputTokenCount);
        }).ToList();
        var answers = await Task.WhenAll(streams);

        var expected = new string[prompts.Count];
        var requests = prompts.Select(p => new GenerationRequest
        {
            Prompt = Formatted(p), MaxNewTokens = 12, StopStrings = ServerFixture.Format.StopStrings,
            Sampling = new SamplingOptions { LogitBias = new Dictionary<int, float> { [f.Model.Vocabulary.Eos] = -100 } },
        }).ToList();
        await foreach (var (i, r) in f.Engine.GenerateBatchAsync(requests)) expected[i] = r.Text;
        Assert.Equal(expected, answers.Select(a => a.Text));
        Assert.All(answers, a => Assert.InRange(a.Tokens, 1, 12));
    }
}
