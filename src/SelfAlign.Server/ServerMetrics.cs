using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SelfAlign.Server;

/// <summary>Counters for Prometheus' text format: per-model load from the engines, requests by endpoint and status, and
/// generation throughput over the last ten seconds.</summary>
internal sealed class ServerMetrics(IReadOnlyList<ServedModel> models)
{
    private readonly ConcurrentDictionary<(string Endpoint, int Status), long> _requests = new();
    private readonly ConcurrentDictionary<string, Queue<(long Ticks, long Tokens)>> _samples = new();
    private long _rejected;

    public void CountRequest(string endpoint, int status) => _requests.AddOrUpdate((endpoint, status), 1, (_, n) => n + 1);
    public void CountRejected() => Interlocked.Increment(ref _rejected);

    /// <summary>Records each model's generated-token count; called about once a second.</summary>
    public void Sample()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var m in models)
        {
            var q = _samples.GetOrAdd(m.Name, _ => new Queue<(long, long)>());
            lock (q)
            {
                q.Enqueue((now, m.Engine.Load.TokensGenerated));
                while (q.Count > 11) q.Dequeue();
            }
        }
    }

    private double TokensPerSecond(string model)
    {
        if (!_samples.TryGetValue(model, out var q)) return 0;
        lock (q)
        {
            if (q.Count < 2) return 0;
            var (t0, n0) = q.Peek();
            var (t1, n1) = q.Last();
            return (n1 - n0) / Math.Max(1e-9, Stopwatch.GetElapsedTime(t0, t1).TotalSeconds);
        }
    }

    public string Render()
    {
        var sb = new StringBuilder();
        void Family(string name, string type, string help) => sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        void Line(string name, string labels, double value) =>
            sb.Append(name).Append('{').Append(labels).Append("} ").Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');

        Family("selfalign_queue_depth", "gauge", "Completions waiting for a sequence");
        foreach (var m in models) Line("selfalign_queue_depth", $"model=\"{m.Name}\"", m.Engine.Load.Waiting);
        Family("selfalign_active_sequences", "gauge", "Completions being decoded");
        foreach (var m in models) Line("selfalign_active_sequences", $"model=\"{m.Name}\"", m.Engine.Load.Running);
        Family("selfalign_requests_in_flight", "gauge", "Completions admitted by the server's queue bound (running or waiting)");
        foreach (var m in models) Line("selfalign_requests_in_flight", $"model=\"{m.Name}\"", m.Gate.InFlight);
        Family("selfalign_rain_waiting", "gauge", "RAIN searches waiting for a place, by judge");
        foreach (var m in models)
            foreach (var j in m.RainJudges) Line("selfalign_rain_waiting", $"model=\"{m.Name}\",judge=\"{j.Name}\"", j.Scheduler.Waiting);
        Family("selfalign_rain_searching", "gauge", "RAIN searches advancing together, by judge");
        foreach (var m in models)
            foreach (var j in m.RainJudges) Line("selfalign_rain_searching", $"model=\"{m.Name}\",judge=\"{j.Name}\"", j.Scheduler.Searching);
        Family("selfalign_generated_tokens_total", "counter", "Tokens generated since the engine started");
        foreach (var m in models) Line("selfalign_generated_tokens_total", $"model=\"{m.Name}\"", m.Engine.Load.TokensGenerated);
        Family("selfalign_tokens_per_second", "gauge", "Tokens generated per second over the last ten seconds");
        foreach (var m in models) Line("selfalign_tokens_per_second", $"model=\"{m.Name}\"", Math.Round(TokensPerSecond(m.Name), 2));
        Family("selfalign_http_requests_total", "counter", "API requests answered, by endpoint and status");
        foreach (var ((endpoint, status), n) in _requests.OrderBy(kv => kv.Key))
            Line("selfalign_http_requests_total", $"endpoint=\"{endpoint}\",status=\"{status}\"", n);
        Family("selfalign_rejected_total", "counter", "Requests turned away with 429 because the queue was full");
        sb.Append("selfalign_rejected_total ").Append(Interlocked.Read(ref _rejected)).Append('\n');
        return sb.ToString();
    }
}
