using System.Runtime.CompilerServices;
using SelfAlign.Native;
using Xunit;

namespace SelfAlign.Tests.Native;

/// <summary>The marshalled structs must match llama.cpp v0.5.0's layout byte for byte; an upgrade that changes them fails here.</summary>
public class NativeStructLayoutTests
{
    [Fact]
    public void StructSizesMatchThisRelease()
    {
        Assert.Equal(80, Unsafe.SizeOf<llama_model_params>());
        Assert.Equal(160, Unsafe.SizeOf<llama_context_params>());
        Assert.Equal(56, Unsafe.SizeOf<llama_batch>());
        Assert.Equal(16, Unsafe.SizeOf<llama_chat_message>());
        Assert.Equal(64, Unsafe.SizeOf<llama_model_quantize_params>());
    }

    [Fact]
    public void DefaultParametersReadBackSensibly()
    {
        LlamaRuntime.EnsureInitialized();
        var c = LlamaNative.llama_context_default_params();
        Assert.Equal(512u, c.n_ctx);
        Assert.Equal(2048u, c.n_batch);
        Assert.Equal(1u, c.n_seq_max);
        var m = LlamaNative.llama_model_default_params();
        Assert.False(m.vocab_only);
        Assert.Contains("CPU", LlamaRuntime.SystemInfo);
    }
}
