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
        Assert.Equal(48, Unsafe.SizeOf<llama_opt_params>());
        Assert.Equal(528, Unsafe.SizeOf<ggml_threadpool_params>());
        Assert.Equal(16, Unsafe.SizeOf<llama_adapter_lora_weight>());
    }

    [Fact]
    public unsafe void ThreadpoolParametersInitialiseWhereTheStructSaysTheyAre()
    {
        LlamaRuntime.EnsureInitialized();
        var p = new ggml_threadpool_params();
        LlamaNative.ggml_threadpool_params_init(&p, 3);
        Assert.Equal(3, p.n_threads);
        Assert.Equal(50u, p.poll); // ggml's default polling level
        Assert.Equal(0, p.paused);
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
