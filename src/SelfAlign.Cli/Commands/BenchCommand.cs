using System.CommandLine;
using SelfAlign.Benchmarks;
using SelfAlign.Cli.Output;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign bench engine</c>.</summary>
internal static class BenchCommand
{
    public static Command Build()
    {
        var bench = new Command("bench", "Benchmarks that print figures");
        bench.Subcommands.Add(BuildEngine());
        bench.Subcommands.Add(BuildTrain());
        bench.Subcommands.Add(BuildAlign());
        bench.Subcommands.Add(BuildRain());
        bench.Subcommands.Add(BuildRainBatch());
        bench.Subcommands.Add(BuildRainMixed());
        bench.Subcommands.Add(BuildServe());
        bench.Subcommands.Add(BuildEval());
        return bench;
    }

    private static Command BuildEval()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: a synthetic 135m llama made on first use)" };
        var questions = new Option<int>("--questions") { Description = "Questions (TruthfulQA has 817; candidates scale with them)", DefaultValueFactory = _ => 817 };
        var harness = new Option<int?>("--harness-questions") { Description = "Questions also scored one forward pass per candidate (default: all; it is the slow way)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("eval", "TruthfulQA-sized multiple choice: scoring rate against the engine's prefill rate, and against one forward pass per candidate")
            { model, questions, harness, json };
        cmd.SetAction(async (p, ct) =>
        {
            var count = p.GetValue(questions);
            if (count < 1) throw new InvalidInputException("--questions must be positive");
            if (p.GetValue(harness) is < 1) throw new InvalidInputException("--harness-questions must be positive");
            using var m = LlamaModel.Load(p.GetValue(model) ?? DefaultModels.Synthetic135M());
            var o = new EvalBenchmark.Options();
            o = o with { Questions = count, HarnessQuestions = p.GetValue(harness) ?? count, Mc1Candidates = (int)((long)o.Mc1Candidates * count / o.Questions), Mc2Candidates = (int)((long)o.Mc2Candidates * count / o.Questions) };
            var r = await EvalBenchmark.RunAsync(m, o, step => Console.Error.WriteLine($"bench eval: {step}"), ct);
            if (p.GetValue(json)) { JsonOutput.Print(r); return 0; }
            foreach (var prop in r.GetType().GetProperties()) Console.WriteLine($"{prop.Name,-24} {prop.GetValue(r):0.###}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildAlign()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model for stage 2 (default: the synthetic 135m llama)" };
        var data = new Option<string>("--data") { Description = "Self-Align data directory", DefaultValueFactory = _ => Path.Combine("data", "selfalign") };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var sizes = new Option<string>("--dedup-sizes") { Description = "Instruction counts to de-duplicate, comma-separated", DefaultValueFactory = _ => $"20000,80000,{AlignBenchmark.PaperInstructions}" };
        var cmd = new Command("align", "ROUGE-L de-duplication at 20k, 80k and the paper's 267,597 instructions; stage 2 with and without the shared principles prompt")
            { model, data, sizes, json };
        cmd.SetAction(p =>
        {
            var counts = p.GetValue(sizes)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.TryParse(s, out var n) && n > 0 ? n : throw new InvalidInputException($"--dedup-sizes: '{s}' is not a positive count")).ToList();
            using var m = LlamaModel.Load(p.GetValue(model) ?? DefaultModels.Synthetic135M());
            var r = AlignBenchmark.Run(m, p.GetValue(data)!, counts, log: step => Console.Error.WriteLine($"bench align: {step}"));
            if (p.GetValue(json)) { JsonOutput.Print(r); return 0; }
            foreach (var d in r.Dedup) Console.WriteLine($"dedup {d.Instructions,8:N0}: kept {d.Kept:N0}, {d.LcsComputed:N0} exact LCS, {d.Seconds:F1} s");
            foreach (var prop in r.GetType().GetProperties().Where(x => x.Name != nameof(r.Dedup))) Console.WriteLine($"{prop.Name,-20} {prop.GetValue(r):0.###}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildServe()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: a synthetic 135m llama made on first use)" };
        var clients = new Option<int>("--clients") { Description = "Concurrent streaming clients", DefaultValueFactory = _ => 64 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens per answer", DefaultValueFactory = _ => 128 };
        var perSequence = new Option<bool>("--per-sequence-kv") { Description = "A KV cache per sequence instead of one shared by all" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("serve", "The server under concurrent streaming clients against the engine's own batched throughput") { model, clients, maxTokens, perSequence, json };
        cmd.SetAction(async (p, ct) =>
        {
            if (p.GetValue(clients) is < 1 or > 255) throw new InvalidInputException("--clients must be in 1..255");
            if (p.GetValue(maxTokens) < 1) throw new InvalidInputException("--max-tokens must be positive");
            using var m = LlamaModel.Load(p.GetValue(model) ?? DefaultModels.Synthetic135M());
            var r = await ServerBenchmark.RunAsync(m, new ServerBenchmark.Options { Clients = p.GetValue(clients), MaxTokens = p.GetValue(maxTokens), PerSequenceKv = p.GetValue(perSequence) },
                step => Console.Error.WriteLine($"bench serve: {step}"), ct);
            if (p.GetValue(json)) { JsonOutput.Print(r); return 0; }
            foreach (var prop in r.GetType().GetProperties()) Console.WriteLine($"{prop.Name,-20} {prop.GetValue(r):0.###}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildRain()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: the clean testbed model)" };
        var n = new Option<int>("--n") { Description = "Held-out requests per kind", DefaultValueFactory = _ => 10 };
        var maxNew = new Option<int>("--max-new-tokens") { DefaultValueFactory = _ => 40 };
        var uncached = new Option<int>("--uncached-prompts") { Description = "Prompts also searched without cache and batching", DefaultValueFactory = _ => 4 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("rain", "RAIN against vanilla sampling, and with the KV cache and batching switched off") { model, n, maxNew, uncached, json };
        cmd.SetAction(p =>
        {
            var path = p.GetValue(model) ?? TestbedCommand.EnsureModel(Testbed.TestbedLevel.Clean);
            using var m = LlamaModel.Load(path);
            var r = RainBenchmark.Run(m, Testbed.TestbedPrompts.Judge, p.GetValue(n), step => Console.Error.WriteLine($"bench rain: {step}"),
                p.GetValue(maxNew), p.GetValue(uncached));
            if (p.GetValue(json)) { JsonOutput.Print(r); return 0; }
            foreach (var prop in r.GetType().GetProperties()) Console.WriteLine($"{prop.Name,-32} {prop.GetValue(r):0.###}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildRainBatch()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: the clean testbed model)" };
        var prompts = new Option<int>("--prompts") { Description = "Held-out requests (half harmful)", DefaultValueFactory = _ => 64 };
        var leaves = new Option<int>("--leaves-per-round") { Description = "RAIN's leaves per round in every tree", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("rain-batch", "RAIN on many prompts: one after another, all at once, and against batched vanilla sampling") { model, prompts, leaves, json };
        cmd.SetAction(p =>
        {
            if (p.GetValue(prompts) < 2) throw new InvalidInputException($"--prompts must be at least 2 (got {p.GetValue(prompts)})");
            var path = p.GetValue(model) ?? TestbedCommand.EnsureModel(Testbed.TestbedLevel.Clean);
            using var m = LlamaModel.Load(path);
            var r = RainBenchmark.Throughput(m, Testbed.TestbedPrompts.Judge, p.GetValue(prompts), p.GetValue(leaves), step => Console.Error.WriteLine($"bench rain-batch: {step}"));
            if (p.GetValue(json)) { JsonOutput.Print(r); return 0; }
            foreach (var prop in r.GetType().GetProperties()) Console.WriteLine($"{prop.Name,-36} {prop.GetValue(r):0.###}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildRainMixed()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: the clean testbed model)" };
        var rainRequests = new Option<int>("--rain-requests") { Description = "Held-out RAIN requests (half harmful)", DefaultValueFactory = _ => 28 };
        var plainRequests = new Option<int>("--plain-requests") { Description = "Ordinary completions arriving with them", DefaultValueFactory = _ => 64 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("rain-mixed", "RAIN requests and ordinary completions together: on two engines, and on one engine the searches share") { model, rainRequests, plainRequests, json };
        cmd.SetAction(p =>
        {
            if (p.GetValue(rainRequests) < 2 || p.GetValue(plainRequests) < 1)
                throw new InvalidInputException($"--rain-requests must be at least 2 and --plain-requests at least 1 (got {p.GetValue(rainRequests)} and {p.GetValue(plainRequests)})");
            var path = p.GetValue(model) ?? TestbedCommand.EnsureModel(Testbed.TestbedLevel.Clean);
            using var m = LlamaModel.Load(path);
            var r = RainBenchmark.Mixed(m, Testbed.TestbedPrompts.Judge, p.GetValue(rainRequests), p.GetValue(plainRequests), step => Console.Error.WriteLine($"bench rain-mixed: {step}"));
            if (p.GetValue(json)) { JsonOutput.Print(r); return 0; }
            foreach (var prop in r.GetType().GetProperties()) Console.WriteLine($"{prop.Name,-24} {prop.GetValue(r):0.###}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildEngine()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model (default: a synthetic 135m llama made on first use)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("engine", "Engine speed: prefill, decode against the raw C API, batching, prefix sharing") { model, json };
        cmd.SetAction(p =>
        {
            var path = p.GetValue(model) ?? DefaultModels.Synthetic135M();
            using var m = LlamaModel.Load(path);
            var r = EngineBenchmark.Run(m, new EngineBenchmark.Options(), step => Console.Error.WriteLine($"bench engine: {step}"));
            if (p.GetValue(json)) { JsonOutput.Print(r); return 0; }
            foreach (var prop in r.GetType().GetProperties()) Console.WriteLine($"{prop.Name,-28} {prop.GetValue(r):F3}");
            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// Training speed and memory, each run in its own process so that each peak memory figure is its own: full
    /// fine-tuning (all tensors, attention only) and rank-16 LoRA on q/k/v/o of the 135m shape in F32, then LoRA on
    /// each base type that trains as it is (F16, Q8_0), and LoRA on the 0.5b shape. Figures come from the runs' JSON summaries.
    /// </summary>
    private static Command BuildTrain()
    {
        var model = new Option<string?>("--model", "-m") { Description = "GGUF model for the 135m rows (default: the synthetic 135m llama)" };
        var windows = new Option<int>("--windows") { Description = "Training windows of 256 tokens per run (one optimizer step each)", DefaultValueFactory = _ => 8 };
        var large = new Option<bool>("--no-0.5b") { Description = "Skip the 0.5b-shape rows" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cmd = new Command("train", "Training speed and memory: full fine-tuning and LoRA, F32 and other base types, 135m and 0.5b shapes") { model, windows, large, json };
        cmd.SetAction(p =>
        {
            var small = p.GetValue(model) ?? DefaultModels.Synthetic135M();
            var dir = Path.Combine(DefaultModels.CacheDirectory, "bench-train");
            Directory.CreateDirectory(dir);
            var data = Path.Combine(dir, "data.jsonl");
            var words = "the assistant reads each rule and answers the question with care and in plain words".Split(' ');
            var rng = new Random(1);
            File.WriteAllLines(data, Enumerable.Range(0, 60 * p.GetValue(windows)).Select(_ =>
                new JsonObject { ["text"] = string.Join(" ", Enumerable.Range(0, 12).Select(_ => words[rng.Next(words.Length)])) }.ToJsonString()));

            string TypeCopy(string path, string type)
            {
                var copy = Path.Combine(dir, $"{Path.GetFileNameWithoutExtension(path)}-{type}.gguf");
                if (!File.Exists(copy)) SelfAlign.Training.Quantization.Write(path, copy, type, Environment.ProcessorCount);
                return copy;
            }
            string[] lora = ["--lora-rank", "16", "--lora-modules", "q_proj,k_proj,v_proj,o_proj", "--checkpoint-every", "0"];
            var tiny = DefaultModels.Synthetic("llama", "tiny");
            var runs = new List<(string Shape, string Type, string Mode, string Path, string[] Args, bool Busy)>
            {
                ("135m", "f32", "full", small, ["--train", "All"], false),
                ("135m", "f32", "full-attention", small, ["--train", "Attention"], false),
                ("135m", "f32", "lora", small, lora, false),
                ("135m", "f16", "lora", TypeCopy(small, "f16"), lora, false),
                ("135m", "q8_0", "lora", TypeCopy(small, "q8_0"), lora, false),
                // A small LoRA training alone and while other work keeps every core busy: with llama.cpp's spinning threads
                // at a fixed count (how training ran before), with sleeping threads, and with the threads adapted to the free cores (the default).
                ("tiny", "f32", "lora-spinning-fixed", tiny, [.. lora, "--thread-polling", "-1", "--fixed-threads"], false),
                ("tiny", "f32", "lora-spinning-fixed", tiny, [.. lora, "--thread-polling", "-1", "--fixed-threads"], true),
                ("tiny", "f32", "lora-sleeping-fixed", tiny, [.. lora, "--fixed-threads"], true),
                ("tiny", "f32", "lora", tiny, lora, false),
                ("tiny", "f32", "lora", tiny, lora, true),
            };
            if (!p.GetValue(large))
            {
                var half = DefaultModels.Synthetic("qwen2", "0.5b");
                runs.Add(("0.5b", "f32", "lora", half, lora, false));
                runs.Add(("0.5b", "q8_0", "lora", TypeCopy(half, "q8_0"), lora, false));
            }
            var rows = new JsonArray();
            foreach (var (shape, type, mode, path, args, busy) in runs)
            {
                Console.Error.WriteLine($"bench train: {shape} {type} {mode}{(busy ? ", cores busy" : "")}");
                using var load = busy ? new CpuLoad(Environment.ProcessorCount) : null;
                var steps = shape == "tiny" ? 64 : p.GetValue(windows);
                var run = RunSelf(["train", "-m", path, "--data", data, "--out", Path.Combine(dir, $"out-{shape}-{type}-{mode}.gguf"), "--ctx", "256", "--lr", "1e-5",
                    "--max-steps", steps.ToString(CultureInfo.InvariantCulture), "--json", .. args]);
                rows.Add(new JsonObject
                {
                    ["shape"] = shape, ["base_type"] = type, ["mode"] = mode, ["cores_busy"] = busy,
                    ["tokens_per_s"] = Math.Round(run["tokens_per_s"]!.GetValue<double>(), 1),
                    ["peak_rss_mb"] = Math.Round(run["peak_rss_mb"]!.GetValue<double>()),
                    ["trainable_parameters"] = run["trainable_parameters"]!.GetValue<long>(),
                    ["tokens_trained"] = run["tokens_trained"]!.GetValue<long>(),
                });
            }
            var results = new JsonObject { ["model_135m"] = small, ["rows"] = rows };
            if (p.GetValue(json)) Console.WriteLine(results.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            else
            {
                Console.WriteLine($"{"shape",-6} {"type",-6} {"mode",-20} {"busy",-5} {"tokens/s",9} {"peak MB",8} {"trainable",12}");
                foreach (var r in rows)
                    Console.WriteLine($"{r!["shape"],-6} {r["base_type"],-6} {r["mode"],-20} {r["cores_busy"],-5} {r["tokens_per_s"],9} {r["peak_rss_mb"],8} {r["trainable_parameters"],12}");
            }
            return 0;
        });
        return cmd;
    }

    private static JsonNode RunSelf(params string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet") psi.ArgumentList.Add(typeof(BenchCommand).Assembly.Location);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"selfalign {string.Join(' ', args)} failed with exit code {process.ExitCode}");
        return JsonNode.Parse(output)!;
    }
}
