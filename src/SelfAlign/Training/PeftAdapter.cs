using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>
/// LoRA adapters in PEFT's format: <c>adapter_model.safetensors</c> (lora_A as rank × in, lora_B as out × rank, under
/// PEFT's module names) and <c>adapter_config.json</c>, which PEFT and vLLM load. llama.cpp's converter permutes the rows
/// of a llama model's q and k projections (its rotary layout); B's rows are permuted back on export and again on import.
/// </summary>
public static class PeftAdapter
{
    public const string WeightsFile = "adapter_model.safetensors";
    public const string ConfigFile = "adapter_config.json";

    internal static void Write(LoraWeights adapter, GgufFile baseModel, string dir, LoraSettings settings)
    {
        Directory.CreateDirectory(dir);
        var tensors = new List<(string Name, long[] Shape, float[] Data)>();
        foreach (var m in adapter.Matrices)
        {
            var (layer, module) = LoraModules.Parse(m.Tensor) ?? throw new InvalidOperationException($"{m.Tensor} is not a LoRA module");
            var path = LoraModules.PeftPath(layer, module);
            tensors.Add(($"{path}.lora_A.weight", [m.Rank, m.In], m.A));
            tensors.Add(($"{path}.lora_B.weight", [m.Out, m.Rank], PermuteRows(baseModel, module, m.B, m.Rank, toPeft: true)));
        }
        WriteSafetensors(Path.Combine(dir, WeightsFile), tensors);
        var config = new JsonObject
        {
            ["peft_type"] = "LORA", ["task_type"] = "CAUSAL_LM", ["r"] = adapter.Matrices.Count > 0 ? adapter.Matrices[0].Rank : settings.Rank,
            ["lora_alpha"] = adapter.Alpha, ["lora_dropout"] = 0.0, ["bias"] = "none", ["fan_in_fan_out"] = false, ["inference_mode"] = true,
            ["target_modules"] = new JsonArray(settings.Modules.Select(x => (JsonNode)x).ToArray()),
            ["base_model_name_or_path"] = baseModel.GetString("general.name") ?? Path.GetFileNameWithoutExtension(baseModel.Path),
        };
        File.WriteAllText(Path.Combine(dir, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Converts a PEFT adapter directory to the GGUF adapter llama.cpp loads, for <paramref name="baseModelPath"/>.</summary>
    /// <exception cref="InvalidInputException">missing or malformed files, or modules the base model does not have.</exception>
    public static void ToGguf(string dir, string baseModelPath, string outPath)
    {
        var baseModel = GgufFile.Read(baseModelPath);
        var configPath = Path.Combine(dir, ConfigFile);
        if (!File.Exists(configPath)) throw new InvalidInputException($"{dir}: no {ConfigFile}");
        float alpha;
        try { alpha = JsonNode.Parse(File.ReadAllText(configPath))?["lora_alpha"]?.GetValue<float>() ?? throw new InvalidInputException($"{configPath}: no lora_alpha"); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { throw new InvalidInputException($"{configPath}: {e.Message}"); }
        var tensors = ReadSafetensors(Path.Combine(dir, WeightsFile));
        var byName = baseModel.Tensors.ToDictionary(t => t.Name);
        var pairs = new List<LoraFile.Pair>();
        foreach (var (name, (shape, data)) in tensors.Where(t => t.Key.EndsWith(".lora_A.weight", StringComparison.Ordinal)))
        {
            var prefix = name[..^".lora_A.weight".Length];
            var module = prefix[(prefix.LastIndexOf('.') + 1)..];
            var layerText = prefix.Split('.').SkipWhile(p => p != "layers").Skip(1).FirstOrDefault();
            if (!LoraModules.IsKnown(module) || !int.TryParse(layerText, out var layer))
                throw new InvalidInputException($"{dir}: tensor {name} is not a layer's {string.Join("/", LoraModules.PeftNames)}");
            if (!tensors.TryGetValue(prefix + ".lora_B.weight", out var b)) throw new InvalidInputException($"{dir}: {name} has no matching lora_B");
            var tensor = $"blk.{layer}.{LoraModules.GgufName(module)}.weight";
            if (!byName.TryGetValue(tensor, out var target)) throw new InvalidInputException($"{dir}: {baseModelPath} has no {tensor}");
            int rank = (int)shape[0], inputs = (int)shape[1], outputs = (int)b.Shape[0];
            if (inputs != target.Shape[0] || outputs != target.Shape[1] || b.Shape[1] != rank)
                throw new InvalidInputException($"{dir}: {prefix} is {outputs} x {inputs} (rank {rank}) but {tensor} is {target.Shape[1]} x {target.Shape[0]}");
            pairs.Add(new LoraFile.Pair(tensor, inputs, outputs, rank, data, PermuteRows(baseModel, module, b.Data, rank, toPeft: false)));
        }
        if (pairs.Count == 0) throw new InvalidInputException($"{dir}: no lora_A tensors in {WeightsFile}");
        LoraFile.Write(outPath, baseModel.Architecture!, pairs.OrderBy(p => p.Tensor, StringComparer.Ordinal), alpha);
    }

    /// <summary>
    /// llama.cpp stores a llama model's q/k rows per head as (half, 2) where Hugging Face stores (2, half); other
    /// architectures are stored as they are.
    /// </summary>
    private static float[] PermuteRows(GgufFile model, string module, float[] b, int rank, bool toPeft)
    {
        if (model.Architecture != "llama" || module is not ("q_proj" or "k_proj")) return b;
        var heads = (int)(module == "q_proj" ? model.GetArchInteger("attention.head_count")! : model.GetArchInteger("attention.head_count_kv") ?? model.GetArchInteger("attention.head_count")!);
        var rows = b.Length / rank;
        var headDim = rows / heads;
        var half = headDim / 2;
        var result = new float[b.Length];
        for (var h = 0; h < heads; h++)
            for (var j = 0; j < half; j++)
                for (var p = 0; p < 2; p++)
                {
                    var gguf = h * headDim + j * 2 + p;
                    var peft = h * headDim + p * half + j;
                    var (from, to) = toPeft ? (gguf, peft) : (peft, gguf);
                    Array.Copy(b, from * rank, result, to * rank, rank);
                }
        return result;
    }

    private static void WriteSafetensors(string path, List<(string Name, long[] Shape, float[] Data)> tensors)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var (name, shape, data) in tensors)
        {
            var size = data.LongLength * sizeof(float);
            header[name] = new JsonObject
            {
                ["dtype"] = "F32", ["shape"] = new JsonArray(shape.Select(x => (JsonNode)x).ToArray()), ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var padded = (json.Length + 7) / 8 * 8; // the format's convention: data starts 8-byte aligned, header padded with spaces
        using var s = File.Create(path);
        s.Write(BitConverter.GetBytes((ulong)padded));
        s.Write(json);
        for (var i = json.Length; i < padded; i++) s.WriteByte((byte)' ');
        foreach (var (_, _, data) in tensors) s.Write(MemoryMarshal.AsBytes(data.AsSpan()));
    }

    /// <summary>Reads a safetensors file's F32, F16 and BF16 tensors as floats.</summary>
    internal static Dictionary<string, (long[] Shape, float[] Data)> ReadSafetensors(string path)
    {
        if (!File.Exists(path)) throw new InvalidInputException($"{path}: file not found");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new InvalidInputException($"{path}: too short for a safetensors file");
        var headerLength = BitConverter.ToUInt64(bytes, 0);
        if (headerLength > (ulong)bytes.Length - 8) throw new InvalidInputException($"{path}: header length {headerLength} runs past the file's end");
        JsonObject header;
        try { header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength))?.AsObject() ?? throw new InvalidInputException($"{path}: empty header"); }
        catch (JsonException e) { throw new InvalidInputException($"{path}: the header is not JSON: {e.Message}"); }
        var dataStart = 8 + (long)headerLength;
        var result = new Dictionary<string, (long[], float[])>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__" || node is null) continue;
            var dtype = node["dtype"]?.GetValue<string>();
            var shape = node["shape"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            var offsets = node["data_offsets"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || dataStart + offsets[1] > bytes.Length)
                throw new InvalidInputException($"{path}: tensor {name} has data offsets outside the file");
            var raw = bytes.AsSpan((int)(dataStart + offsets[0]), (int)(offsets[1] - offsets[0]));
            var count = shape.Aggregate(1L, (a, x) => a * x);
            float[] values = dtype switch
            {
                "F32" => MemoryMarshal.Cast<byte, float>(raw).ToArray(),
                "F16" => MemoryMarshal.Cast<byte, Half>(raw).ToArray().Select(h => (float)h).ToArray(),
                "BF16" => MemoryMarshal.Cast<byte, ushort>(raw).ToArray().Select(u => BitConverter.Int32BitsToSingle(u << 16)).ToArray(),
                _ => throw new InvalidInputException($"{path}: tensor {name} has dtype {dtype}; F32, F16 and BF16 are read"),
            };
            if (values.Length != count) throw new InvalidInputException($"{path}: tensor {name} holds {values.Length} values for shape [{string.Join(", ", shape)}]");
            result[name] = (shape, values);
        }
        return result;
    }
}
