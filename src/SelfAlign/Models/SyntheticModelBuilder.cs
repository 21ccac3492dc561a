using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SelfAlign.Models;

/// <summary>
/// Writes random-weight GGUF models with the tensor layout llama.cpp expects for an architecture,
/// so tests and benchmarks run on real shapes without downloadable weights.
/// </summary>
public static class SyntheticModelBuilder
{
    /// <summary>Options for <see cref="Write"/>.</summary>
    public sealed record Options
    {
        public required ModelShape Shape { get; init; }
        public ulong Seed { get; init; } = 1;
        /// <summary>Tensor type of the weight matrices: F32 (trainable) or F16.</summary>
        public GgmlType WeightType { get; init; } = GgmlType.F32;
        /// <summary>A tokenizer-only (or any) GGUF whose <c>tokenizer.*</c> keys are copied; null uses the built-in one.</summary>
        public string? VocabularyFrom { get; init; }
        /// <summary>Words to give their own tokens in the built-in vocabulary.</summary>
        public IReadOnlyList<string>? ExtraWords { get; init; }
        /// <summary>Words to give their own tokens after the built-in vocabulary's common English words.</summary>
        public IReadOnlyList<string>? TrailingWords { get; init; }
        /// <summary>Give the output projection its own tensor instead of tying it to the token embedding.</summary>
        public bool UntiedOutput { get; init; }
        /// <summary>Use exactly the built-in vocabulary's words (<see cref="ExtraWords"/>), not a fixed size.</summary>
        public bool CompactVocabulary { get; init; }
        /// <summary>Standard deviation of the random matrices.</summary>
        public float InitScale { get; init; } = 0.02f;
        /// <summary>Per-tensor standard deviation by name, overriding <see cref="InitScale"/> where it returns a value.</summary>
        public Func<string, float?>? InitScaleFor { get; init; }
        /// <summary>llama.cpp's pooling type to declare (1 mean, 2 CLS, 3 last), as an embedding model does; null declares none.</summary>
        public uint? PoolingType { get; init; }
    }

    public static void Write(string path, Options o)
    {
        if (o.WeightType is not (GgmlType.F32 or GgmlType.F16)) throw new InvalidInputException("weights can be F32 or F16");
        var s = o.Shape;
        var tokenizer = TokenizerMetadata(o, out var vocabSize);
        s = s with { VocabSize = vocabSize };

        var w = new GgufWriter();
        var a = s.Architecture;
        w.Set("general.architecture", GgufMetadataValue.Of(a))
         .Set("general.name", GgufMetadataValue.Of($"selfalign-synthetic-{a}-{s.Layers}x{s.Embedding}"))
         .Set("general.file_type", GgufMetadataValue.Of(o.WeightType == GgmlType.F32 ? 0u : 1u))
         .Set($"{a}.context_length", GgufMetadataValue.Of((uint)s.ContextLength))
         .Set($"{a}.embedding_length", GgufMetadataValue.Of((uint)s.Embedding))
         .Set($"{a}.block_count", GgufMetadataValue.Of((uint)s.Layers))
         .Set($"{a}.feed_forward_length", GgufMetadataValue.Of((uint)s.FeedForward))
         .Set($"{a}.attention.head_count", GgufMetadataValue.Of((uint)s.Heads))
         .Set($"{a}.attention.head_count_kv", GgufMetadataValue.Of((uint)s.KvHeads))
         .Set($"{a}.rope.freq_base", GgufMetadataValue.Of(s.RopeFreqBase))
         .Set($"{a}.rope.dimension_count", GgufMetadataValue.Of((uint)s.HeadDim))
         .Set($"{a}.attention.layer_norm_rms_epsilon", GgufMetadataValue.Of(s.RmsEpsilon))
         .Set($"{a}.vocab_size", GgufMetadataValue.Of((uint)s.VocabSize));
        if (o.PoolingType is { } pooling) w.Set($"{a}.pooling_type", GgufMetadataValue.Of(pooling));
        foreach (var (k, v) in tokenizer) w.Set(k, v);

        var rng = new SplitMix(o.Seed);
        int q = s.Heads * s.HeadDim, kv = s.KvHeads * s.HeadDim;
        void Matrix(string name, long cols, long rows) =>
            w.AddTensor(new(name, o.WeightType, [cols, rows], st => WriteRandom(st, cols * rows, o.InitScaleFor?.Invoke(name) ?? o.InitScale, o.WeightType, rng)));
        void Vector(string name, long n, float value) =>
            w.AddTensor(new(name, GgmlType.F32, [n], st => WriteConstant(st, n, value)));

        Matrix("token_embd.weight", s.Embedding, s.VocabSize);
        Vector("output_norm.weight", s.Embedding, 1f);
        for (var i = 0; i < s.Layers; i++)
        {
            var p = $"blk.{i}.";
            Vector(p + "attn_norm.weight", s.Embedding, 1f);
            Matrix(p + "attn_q.weight", s.Embedding, q);
            Matrix(p + "attn_k.weight", s.Embedding, kv);
            Matrix(p + "attn_v.weight", s.Embedding, kv);
            if (s.QkvBias)
            {
                Vector(p + "attn_q.bias", q, 0f);
                Vector(p + "attn_k.bias", kv, 0f);
                Vector(p + "attn_v.bias", kv, 0f);
            }
            Matrix(p + "attn_output.weight", q, s.Embedding);
            Vector(p + "ffn_norm.weight", s.Embedding, 1f);
            Matrix(p + "ffn_gate.weight", s.Embedding, s.FeedForward);
            Matrix(p + "ffn_down.weight", s.FeedForward, s.Embedding);
            Matrix(p + "ffn_up.weight", s.Embedding, s.FeedForward);
        }
        // Without output.weight the projection is tied to token_embd, as in SmolLM2 and Qwen2.5-0.5B.
        if (o.UntiedOutput) Matrix("output.weight", s.Embedding, s.VocabSize);
        w.Write(path);
    }

    private static IReadOnlyList<KeyValuePair<string, GgufMetadataValue>> TokenizerMetadata(Options o, out int vocabSize)
    {
        if (o.VocabularyFrom is null && o.CompactVocabulary)
            return ByteFallbackVocabulary.BuildCompact(o.ExtraWords ?? [], out vocabSize, o.TrailingWords);
        if (o.VocabularyFrom is null)
        {
            var built = ByteFallbackVocabulary.Build(o.Shape.VocabSize, o.ExtraWords, o.TrailingWords);
            vocabSize = o.Shape.VocabSize;
            return built;
        }
        var source = GgufFile.Read(o.VocabularyFrom);
        var copied = source.Metadata.Where(kv => kv.Key.StartsWith("tokenizer.", StringComparison.Ordinal)).ToList();
        var tokens = copied.FirstOrDefault(kv => kv.Key == "tokenizer.ggml.tokens").Value?.Value as string[]
            ?? throw new GgufFormatException($"{o.VocabularyFrom}: has no tokenizer.ggml.tokens");
        vocabSize = tokens.Length;
        return copied;
    }

    private static void WriteRandom(Stream st, long n, float std, GgmlType type, SplitMix rng)
    {
        // Uniform in [-a, a] has standard deviation a/sqrt(3); cheaper than normal and fine for random weights.
        var a = std * MathF.Sqrt(3f);
        var elementSize = type == GgmlType.F32 ? 4 : 2;
        var buffer = new byte[64 * 1024 * elementSize];
        for (long done = 0; done < n;)
        {
            var count = (int)Math.Min(64 * 1024, n - done);
            for (var i = 0; i < count; i++)
            {
                var v = (rng.NextFloat() * 2f - 1f) * a;
                if (type == GgmlType.F32) BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), v);
                else BinaryPrimitives.WriteHalfLittleEndian(buffer.AsSpan(i * 2), (Half)v);
            }
            st.Write(buffer, 0, count * elementSize);
            done += count;
        }
    }

    private static void WriteConstant(Stream st, long n, float value)
    {
        var values = new float[n];
        Array.Fill(values, value);
        st.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    /// <summary>SplitMix64: small, fast and fully determined by its seed on every platform.</summary>
    private sealed class SplitMix(ulong seed)
    {
        private ulong _state = seed;

        public float NextFloat()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            return (z >> 40) * (1f / (1 << 24));
        }
    }
}
