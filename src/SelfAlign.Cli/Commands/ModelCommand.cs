using System.CommandLine;
using SelfAlign.Cli.Output;
using SelfAlign.Models;

namespace SelfAlign.Cli.Commands;

/// <summary><c>selfalign model synth|inspect|lora-from-peft</c>.</summary>
internal static class ModelCommand
{
    public static Command Build()
    {
        var model = new Command("model", "Make and inspect GGUF models");
        model.Subcommands.Add(BuildSynth());
        model.Subcommands.Add(BuildInspect());
        model.Subcommands.Add(BuildLoraFromPeft());
        return model;
    }

    private static Command BuildLoraFromPeft()
    {
        var dir = new Argument<string>("peft-dir") { Description = "Directory with adapter_model.safetensors and adapter_config.json" };
        var baseModel = new Option<string>("--base") { Description = "The GGUF base model the adapter was trained for", Required = true };
        var output = new Option<string>("--out") { Description = "GGUF LoRA adapter to write", Required = true };
        var cmd = new Command("lora-from-peft", "Convert a PEFT LoRA adapter (llama or qwen2 names) to the GGUF adapter llama.cpp loads") { dir, baseModel, output };
        cmd.SetAction(p =>
        {
            SelfAlign.Training.PeftAdapter.ToGguf(p.GetValue(dir)!, p.GetValue(baseModel)!, p.GetValue(output)!);
            Console.WriteLine($"wrote {p.GetValue(output)}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildSynth()
    {
        var arch = new Option<string>("--arch") { Description = "Architecture", DefaultValueFactory = _ => "llama" };
        arch.AcceptOnlyFromAmong("llama", "qwen2");
        var preset = new Option<string>("--preset") { Description = "Shape: tiny, 135m (SmolLM2-135M) or 0.5b (Qwen2.5-0.5B)", DefaultValueFactory = _ => "tiny" };
        preset.AcceptOnlyFromAmong("tiny", "135m", "0.5b");
        var vocab = new Option<string?>("--vocab") { Description = "Copy the tokenizer of this GGUF (e.g. a ggml-vocab file)" };
        var seed = new Option<ulong>("--seed") { Description = "Random seed of the weights", DefaultValueFactory = _ => 1 };
        var type = new Option<string>("--type") { Description = "Weight type", DefaultValueFactory = _ => "f32" };
        type.AcceptOnlyFromAmong("f32", "f16");
        var output = new Option<string>("--out") { Description = "Output GGUF path", Required = true };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON" };
        var cmd = new Command("synth", "Write a random-weight model with a real architecture's shapes and a real tokenizer")
            { arch, preset, vocab, seed, type, output, json };
        cmd.SetAction(p =>
        {
            var path = p.GetValue(output)!;
            SyntheticModelBuilder.Write(path, new SyntheticModelBuilder.Options
            {
                Shape = ModelShape.Preset(p.GetValue(arch)!, p.GetValue(preset)!),
                Seed = p.GetValue(seed),
                VocabularyFrom = p.GetValue(vocab),
                WeightType = p.GetValue(type) == "f16" ? GgmlType.F16 : GgmlType.F32,
            });
            var summary = ModelSummary.Of(GgufFile.Read(path));
            if (p.GetValue(json)) JsonOutput.Print(summary);
            else Console.WriteLine($"wrote {path}: {summary.Architecture}, {summary.ParameterCount:N0} parameters, vocabulary {summary.VocabularySize}");
            return 0;
        });
        return cmd;
    }

    private static Command BuildInspect()
    {
        var path = new Argument<string>("model") { Description = "GGUF file" };
        var json = new Option<bool>("--json") { Description = "Print as JSON" };
        var cmd = new Command("inspect", "Print a GGUF model's architecture, size, tensor types and tokenizer") { path, json };
        cmd.SetAction(p =>
        {
            var gguf = GgufFile.Read(p.GetValue(path)!);
            // A model (one with a tokenizer) is checked as a load would check it; adapters and other GGUFs are only read.
            if (gguf.Metadata.ContainsKey("tokenizer.ggml.model")) GgufModelCheck.Validate(gguf);
            var summary = ModelSummary.Of(gguf);
            if (p.GetValue(json)) { JsonOutput.Print(summary); return 0; }
            Console.WriteLine($"file:            {summary.Path}");
            Console.WriteLine($"architecture:    {summary.Architecture}");
            Console.WriteLine($"name:            {summary.Name}");
            Console.WriteLine($"parameters:      {summary.ParameterCount:N0}");
            Console.WriteLine($"layers:          {summary.Layers}");
            Console.WriteLine($"embedding:       {summary.EmbeddingLength}");
            Console.WriteLine($"context length:  {summary.ContextLength}");
            Console.WriteLine($"vocabulary:      {summary.VocabularySize} ({summary.TokenizerModel})");
            Console.WriteLine($"tensor types:    {string.Join(", ", summary.TensorTypes.Select(kv => $"{kv.Key} x{kv.Value}"))}");
            Console.WriteLine($"chat template:   {(summary.ChatTemplate is null ? "(none)" : summary.ChatTemplate.Length > 60 ? summary.ChatTemplate[..60] + "..." : summary.ChatTemplate)}");
            return 0;
        });
        return cmd;
    }
}
