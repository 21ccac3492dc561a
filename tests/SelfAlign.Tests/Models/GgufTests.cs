using SelfAlign.Models;
using Xunit;

namespace SelfAlign.Tests.Models;

public class GgufTests
{
    private static string Temp(string name) => Path.Combine(TestModels.Directory, name);

    [Fact]
    public void WriterOutputReadsBack()
    {
        var path = Temp("roundtrip.gguf");
        new GgufWriter()
            .Set("general.architecture", GgufMetadataValue.Of("llama"))
            .Set("test.count", GgufMetadataValue.Of(7u))
            .Set("test.words", GgufMetadataValue.Of(new[] { "a", "bé", "" }))
            .AddTensor(new("t.weight", GgmlType.F32, [3, 2], s => s.Write(new byte[24])))
            .AddTensor(new("u.weight", GgmlType.F16, [5], s => s.Write(new byte[10])))
            .Write(path);
        var f = GgufFile.Read(path);
        Assert.Equal("llama", f.Architecture);
        Assert.Equal(7, f.GetInteger("test.count"));
        Assert.Equal(new[] { "a", "bé", "" }, (string[])f.Metadata["test.words"].Value);
        Assert.Equal([3L, 2L], f.Tensors[0].Shape);
        Assert.Equal(10, f.Tensors[1].ByteSize);
        Assert.Equal(0, f.Tensors[1].Offset % 32);
    }

    [Fact]
    public void SyntheticPresetsHaveTheRealShapes()
    {
        var smol = ModelShape.Preset("llama", "135m");
        Assert.Equal((576, 30, 9, 3, 1536, 49152), (smol.Embedding, smol.Layers, smol.Heads, smol.KvHeads, smol.FeedForward, smol.VocabSize));
        var qwen = ModelShape.Preset("qwen2", "0.5b");
        Assert.Equal((896, 24, 14, 2, 4864, 151936), (qwen.Embedding, qwen.Layers, qwen.Heads, qwen.KvHeads, qwen.FeedForward, qwen.VocabSize));
        Assert.True(qwen.QkvBias);
        var f = GgufFile.Read(TestModels.TinyQwen2);
        Assert.Contains(f.Tensors, t => t.Name == "blk.0.attn_q.bias");
        Assert.Equal("qwen2", f.Architecture);
    }

    [Fact]
    public void WrongMagicIsReported() =>
        AssertFormatError("wrong magic", File.ReadAllBytes(TestModels.TinyLlama).Select((b, i) => i == 0 ? (byte)'X' : b).ToArray());

    [Fact]
    public void TruncatedFileIsReported()
    {
        var bytes = File.ReadAllBytes(TestModels.TinyLlama);
        AssertFormatError("lies outside the file (truncated?)", bytes[..(bytes.Length / 2)]);
        AssertFormatError("truncated while reading", bytes[..300]);
        AssertFormatError("not a GGUF file", bytes[..10]);
    }

    [Fact]
    public void AbsurdCountsAreReportedWithoutAllocating()
    {
        var bytes = File.ReadAllBytes(TestModels.TinyLlama);
        BitConverter.GetBytes(long.MaxValue).CopyTo(bytes, 8); // tensor count
        AssertFormatError("tensor count", bytes);
        bytes = File.ReadAllBytes(TestModels.TinyLlama);
        BitConverter.GetBytes(1L << 40).CopyTo(bytes, 16); // metadata count
        AssertFormatError("metadata count", bytes);
        bytes = File.ReadAllBytes(TestModels.TinyLlama);
        BitConverter.GetBytes(long.MaxValue / 2).CopyTo(bytes, 24); // first key's length
        AssertFormatError("truncated", bytes);
    }

    [Fact]
    public void MissingFileIsReported() =>
        Assert.Contains("not found", Assert.Throws<GgufFormatException>(() => GgufFile.Read(Temp("absent.gguf"))).Message);

    private static void AssertFormatError(string expected, byte[] content)
    {
        var path = Temp($"bad-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(path, content);
        var e = Assert.Throws<GgufFormatException>(() => GgufFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        // The loader validates first, so llama.cpp never sees the bad file.
        Assert.Contains(expected, Assert.Throws<GgufFormatException>(() => LlamaModel.Load(path)).Message);
    }
}
