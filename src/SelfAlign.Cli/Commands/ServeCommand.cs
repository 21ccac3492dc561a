using System.CommandLine;
using SelfAlign.Cli.Output;
using SelfAlign.Generation;
using SelfAlign.Models;
using SelfAlign.Rain;
using SelfAlign.Server;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign serve</c>: the OpenAI-compatible server, the base model and each named adapter in an engine of its own.</summary>
internal static class ServeCommand
{
    public static Command Build()
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF model file", Required = true };
        var name = new Option<string?>("--name") { Description = "The name requests use for the base model (default: the file name)" };
        var adapters = new Option<string[]>("--adapter") { Description = "NAME=A.gguf[:SCALE]: also serve the model with this LoRA adapter as NAME (repeatable)", AllowMultipleArgumentsPerToken = false };
        var host = new Option<string>("--host") { Description = "Address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port (0 = any free port)", DefaultValueFactory = _ => 8080 };
        var parallel = new Option<int>("--parallel") { Description = "Completions decoded together per model", DefaultValueFactory = _ => 16 };
        var queue = new Option<int>("--max-queued") { Description = "Completions waiting per model before requests get 429", DefaultValueFactory = _ => new ServerOptions().MaxQueued };
        var ctx = new Option<int>("--ctx-size") { Description = "KV-cache cells per model, shared by its running completions (RAIN's come on top)", DefaultValueFactory = _ => 8192 };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var maxTokens = new Option<int>("--default-max-tokens") { Description = "max_tokens when a request gives none", DefaultValueFactory = _ => new ServerOptions().DefaultMaxTokens };
        var chatFormat = new Option<string?>("--chat-format") { Description = "YAML turn format for chat requests (default: the model's chat template, else ### User/### Assistant turns)" };
        var perSequence = new Option<bool>("--per-sequence-kv") { Description = "A KV cache of ctx-size/parallel cells per sequence instead of one shared: faster attention with many short requests, but each request must fit its share" };
        var rain = new Option<bool>("--rain") { Description = "Let requests ask for RAIN decoding, judged by the shipped harm judge (searched on the model's own engine, in 8192 more KV cells per judge; needs the shared KV cache)" };
        var judge = new Option<string[]>("--rain-judge") { Description = "NAME=J.yaml: a RAIN judge requests choose by rain.judge (repeatable; the first is the default; implies --rain)", AllowMultipleArgumentsPerToken = false };
        var json = new Option<bool>("--json") { Description = "Print the address and models as one JSON line when listening" };
        var cmd = new Command("serve", "Serve models over an OpenAI-compatible HTTP API (chat, completions, streaming, RAIN per request)")
        {
            model, name, adapters, host, port, parallel, queue, ctx, threads, maxTokens, chatFormat, perSequence, rain, judge, json,
        };
        cmd.SetAction(async (p, ct) =>
        {
            var options = new ServerOptions
            {
                Host = p.GetValue(host)!, Port = p.GetValue(port), MaxQueued = p.GetValue(queue), DefaultMaxTokens = p.GetValue(maxTokens),
            };
            var k = p.GetValue(parallel);
            if (k < 1) throw new InvalidInputException($"--parallel must be positive (got {k})");
            var judges = (p.GetValue(judge) ?? []).Select(spec =>
            {
                var eq = spec.IndexOf('=');
                return eq > 0 && eq < spec.Length - 1 ? (Name: spec[..eq], Judge: RainJudge.Load(spec[(eq + 1)..]))
                    : throw new InvalidInputException($"--rain-judge '{spec}' is not NAME=J.yaml");
            }).ToList();
            if (judges.Count == 0 && p.GetValue(rain)) judges.Add(("harm", RainJudge.Harm));
            var adapterSpecs = (p.GetValue(adapters) ?? []).Select(ParseAdapter).ToList();

            using var baseModel = LlamaModel.Load(p.GetValue(model)!);
            IChatFormat format = p.GetValue(chatFormat) is { } f ? TurnFormat.Load(f)
                : baseModel.ChatTemplate is not null ? new ModelChatTemplate(baseModel) : TurnFormat.Plain;
            var baseName = p.GetValue(name) ?? Path.GetFileNameWithoutExtension(baseModel.Path);
            var owned = new List<IDisposable>();
            try
            {
                var served = new List<ServedModel>();
                void Serve(string servedName, IReadOnlyList<(LoraAdapter, float)> lora)
                {
                    // RAIN searches in shares of the model's engine, so their decode calls carry its running completions:
                    // the engine gets its k completions and one shared prefix, each judge an equal part of the rest
                    var rainOptions = new RainOptions { Threads = p.GetValue(threads), StopStrings = format.StopStrings, FlashAttention = false };
                    var ownSequences = Math.Min(256, k + 1);
                    var engine = new GenerationEngine(baseModel, new EngineOptions
                    {
                        Context = new ContextOptions
                        {
                            ContextSize = p.GetValue(ctx) + judges.Count * rainOptions.ContextSize,
                            MaxSequences = judges.Count > 0 ? 256 : ownSequences, Threads = p.GetValue(threads), LoraAdapters = lora,
                            UnifiedKvCache = !p.GetValue(perSequence), Embeddings = judges.Count > 0,
                        },
                        MaxParallel = k,
                    });
                    owned.Add(engine);
                    var rainJudges = new List<ServedRainJudge>();
                    foreach (var (judgeName, j) in judges)
                    {
                        var decoder = new RainDecoder(engine, j, rainOptions, (256 - ownSequences) / judges.Count);
                        owned.Add(decoder);
                        rainJudges.Add(new ServedRainJudge(judgeName, decoder));
                    }
                    served.Add(new ServedModel(servedName, engine, format, rainJudges));
                }
                Serve(baseName, []);
                foreach (var (adapterName, path, scale) in adapterSpecs) Serve(adapterName, [(LoraAdapter.Load(baseModel, path), scale)]);

                await using var server = new OpenAiServer(served, options);
                try { await server.StartAsync(ct); }
                catch (IOException e) { throw new InvalidInputException($"cannot listen on {options.Host}:{options.Port}: {e.Message}"); }
                if (p.GetValue(json)) JsonOutput.PrintLine(new { address = server.Address.ToString(), models = served.Select(s => s.Name) });
                else Console.Error.WriteLine($"serving {string.Join(", ", served.Select(s => s.Name))} at {server.Address}v1 (Ctrl-C stops)");
                try { await Task.Delay(Timeout.Infinite, ct); }
                catch (OperationCanceledException) { }
                await server.StopAsync(TimeSpan.FromSeconds(3));
                return 0;
            }
            finally
            {
                for (var i = owned.Count - 1; i >= 0; i--) owned[i].Dispose();
            }
        });
        return cmd;
    }

    private static (string Name, string Path, float Scale) ParseAdapter(string spec)
    {
        var eq = spec.IndexOf('=');
        if (eq <= 0 || eq == spec.Length - 1) throw new InvalidInputException($"--adapter '{spec}' is not NAME=A.gguf[:SCALE]");
        var (path, scale) = AdapterOption.ParseSpec(spec[(eq + 1)..]);
        if (!File.Exists(path)) throw new InvalidInputException($"adapter file not found: {path}");
        return (spec[..eq], path, scale);
    }
}
