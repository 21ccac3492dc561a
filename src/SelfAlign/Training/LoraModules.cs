namespace SelfAlign.Training;

/// <summary>
/// The projection matrices LoRA can target, by PEFT's module names (what users of PEFT and vLLM write) and by the
/// tensor names llama.cpp gives them in GGUF (blk.N.attn_q.weight ...), for llama-family models such as llama and qwen2.
/// </summary>
public static class LoraModules
{
    private static readonly (string Peft, string Gguf, string Block)[] Table =
    [
        ("q_proj", "attn_q", "self_attn"), ("k_proj", "attn_k", "self_attn"), ("v_proj", "attn_v", "self_attn"),
        ("o_proj", "attn_output", "self_attn"), ("gate_proj", "ffn_gate", "mlp"), ("up_proj", "ffn_up", "mlp"), ("down_proj", "ffn_down", "mlp"),
    ];

    public static IEnumerable<string> PeftNames => Table.Select(t => t.Peft);

    public static bool IsKnown(string peftName) => Table.Any(t => t.Peft == peftName);

    /// <summary>The GGUF tensor name part of a PEFT module name: q_proj → attn_q.</summary>
    public static string GgufName(string peftName) => Table.First(t => t.Peft == peftName).Gguf;

    /// <summary>The PEFT module of a GGUF tensor (blk.3.attn_q.weight → (3, q_proj)), or null for a tensor LoRA does not target.</summary>
    public static (int Layer, string Module)? Parse(string ggufTensorName)
    {
        var parts = ggufTensorName.Split('.');
        if (parts.Length != 4 || parts[0] != "blk" || parts[3] != "weight" || !int.TryParse(parts[1], out var layer)) return null;
        foreach (var t in Table)
            if (t.Gguf == parts[2]) return (layer, t.Peft);
        return null;
    }

    /// <summary>PEFT's full name of a layer's module, as PEFT writes it for llama and qwen2: base_model.model.model.layers.3.self_attn.q_proj.</summary>
    public static string PeftPath(int layer, string peftName) =>
        $"base_model.model.model.layers.{layer}.{Table.First(t => t.Peft == peftName).Block}.{peftName}";
}
