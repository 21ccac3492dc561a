using System.Runtime.InteropServices;
using SelfAlign.Data;
using SelfAlign.Models;

namespace SelfAlign.Training;

/// <summary>
/// Turns a fine-tune into a LoRA adapter: for every trained matrix, the truncated SVD of the weight change
/// ΔW ≈ U·S·Vᵀ gives B = U·√S and A = √S·Vᵀ (randomised subspace iteration, then an exact small SVD).
/// </summary>
public static class LoraExtraction
{
    /// <summary>Writes the adapter and returns the relative reconstruction error ‖ΔW − B·A‖ / ‖ΔW‖ over all matrices.</summary>
    public static double Write(string basePath, string tunedPath, string adapterPath, int rank, IReadOnlyCollection<string> trainedTensors)
    {
        var baseFile = GgufFile.Read(basePath);
        var tuned = GgufFile.Read(tunedPath);
        var byName = baseFile.Tensors.ToDictionary(t => t.Name);
        var pairs = new List<LoraFile.Pair>();
        double residual = 0, total = 0;
        foreach (var t in tuned.Tensors.Where(t => t.Shape.Length == 2 && trainedTensors.Contains(t.Name)))
        {
            int cols = (int)t.Shape[0], rows = (int)t.Shape[1]; // ΔW is (rows = out) × (cols = in)
            var w1 = MemoryMarshal.Cast<byte, float>(tuned.ReadTensorBytes(t)).ToArray();
            var w0 = MemoryMarshal.Cast<byte, float>(baseFile.ReadTensorBytes(byName[t.Name])).ToArray();
            var delta = new double[w1.Length];
            for (var i = 0; i < delta.Length; i++) delta[i] = w1[i] - w0[i];
            var r = Math.Min(rank, Math.Min(rows, cols));
            var (u, s, v) = TruncatedSvd(delta, rows, cols, r, seed: unchecked((int)Seeds.Hash(t.Name)));
            var a = new float[r * cols];
            var b = new float[rows * r];
            for (var k = 0; k < r; k++)
            {
                var root = Math.Sqrt(s[k]);
                for (var j = 0; j < cols; j++) a[k * cols + j] = (float)(root * v[j * r + k]);
                for (var i = 0; i < rows; i++) b[i * r + k] = (float)(root * u[i * r + k]);
            }
            for (var i = 0; i < rows; i++)
                for (var j = 0; j < cols; j++)
                {
                    double approx = 0;
                    for (var k = 0; k < r; k++) approx += (double)b[i * r + k] * a[k * cols + j];
                    var d = delta[i * cols + j];
                    residual += (d - approx) * (d - approx);
                    total += d * d;
                }
            pairs.Add(new LoraFile.Pair(t.Name, cols, rows, r, a, b));
        }
        if (pairs.Count == 0) throw new InvalidInputException("no trained matrix to extract a LoRA adapter from");
        // alpha = rank makes llama.cpp's scale alpha/rank equal 1 for every matrix of rank `rank`;
        // matrices clipped to a smaller rank keep their own rank in their shapes, so rescale their B.
        foreach (var p in pairs.Where(p => p.Rank != rank))
            for (var i = 0; i < p.B.Length; i++) p.B[i] *= (float)p.Rank / rank;
        LoraFile.Write(adapterPath, tuned.Architecture!, pairs, alpha: rank);
        return total == 0 ? 0 : Math.Sqrt(residual / total);
    }

    /// <summary>Rank-r SVD of the rows×cols row-major matrix m: U (rows×r), S (r), V (cols×r), all row-major.</summary>
    internal static (double[] U, double[] S, double[] V) TruncatedSvd(double[] m, int rows, int cols, int r, int seed)
    {
        var k = Math.Min(Math.Min(rows, cols), r + 8);
        var rng = new Random(seed);
        var omega = new double[cols * k];
        for (var i = 0; i < omega.Length; i++) omega[i] = rng.NextDouble() * 2 - 1;
        var q = Orthonormalize(Multiply(m, rows, cols, omega, k), rows, k);
        for (var iter = 0; iter < 3; iter++)
        {
            var z = Orthonormalize(MultiplyTransposed(m, rows, cols, q, k), cols, k); // Mᵀ·Q: cols×k
            q = Orthonormalize(Multiply(m, rows, cols, z, k), rows, k);             // M·Z: rows×k
        }
        // Small matrix Bm = Qᵀ·M (k×cols); its SVD via the eigen-decomposition of Bm·Bmᵀ (k×k).
        var bm = new double[k * cols];
        for (var a = 0; a < k; a++)
            for (var i = 0; i < rows; i++)
            {
                var qa = q[i * k + a];
                if (qa == 0) continue;
                for (var j = 0; j < cols; j++) bm[a * cols + j] += qa * m[i * cols + j];
            }
        var gram = new double[k * k];
        for (var a = 0; a < k; a++)
            for (var b = a; b < k; b++)
            {
                double sum = 0;
                for (var j = 0; j < cols; j++) sum += bm[a * cols + j] * bm[b * cols + j];
                gram[a * k + b] = gram[b * k + a] = sum;
            }
        var (values, vectors) = JacobiEigen(gram, k);
        var order = Enumerable.Range(0, k).OrderByDescending(i => values[i]).Take(r).ToArray();
        var u = new double[rows * r];
        var s = new double[r];
        var v = new double[cols * r];
        for (var c = 0; c < r; c++)
        {
            var e = order[c];
            var sigma = Math.Sqrt(Math.Max(0, values[e]));
            s[c] = sigma;
            for (var i = 0; i < rows; i++)
            {
                double sum = 0;
                for (var a = 0; a < k; a++) sum += q[i * k + a] * vectors[a * k + e];
                u[i * r + c] = sum;
            }
            if (sigma == 0) continue;
            for (var j = 0; j < cols; j++)
            {
                double sum = 0;
                for (var a = 0; a < k; a++) sum += bm[a * cols + j] * vectors[a * k + e];
                v[j * r + c] = sum / sigma;
            }
        }
        return (u, s, v);
    }

    private static double[] Multiply(double[] m, int rows, int cols, double[] x, int k)
    {
        var y = new double[rows * k];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++)
            {
                var mij = m[i * cols + j];
                if (mij == 0) continue;
                for (var c = 0; c < k; c++) y[i * k + c] += mij * x[j * k + c];
            }
        return y;
    }

    private static double[] MultiplyTransposed(double[] m, int rows, int cols, double[] x, int k)
    {
        var y = new double[cols * k];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++)
            {
                var mij = m[i * cols + j];
                if (mij == 0) continue;
                for (var c = 0; c < k; c++) y[j * k + c] += mij * x[i * k + c];
            }
        return y;
    }

    /// <summary>Modified Gram–Schmidt on the k columns of an n×k row-major matrix (dependent columns become zero).</summary>
    private static double[] Orthonormalize(double[] x, int n, int k)
    {
        for (var c = 0; c < k; c++)
        {
            for (var p = 0; p < c; p++)
            {
                double dot = 0;
                for (var i = 0; i < n; i++) dot += x[i * k + c] * x[i * k + p];
                for (var i = 0; i < n; i++) x[i * k + c] -= dot * x[i * k + p];
            }
            double norm = 0;
            for (var i = 0; i < n; i++) norm += x[i * k + c] * x[i * k + c];
            norm = Math.Sqrt(norm);
            for (var i = 0; i < n; i++) x[i * k + c] = norm > 1e-12 ? x[i * k + c] / norm : 0;
        }
        return x;
    }

    /// <summary>Eigen-decomposition of a symmetric n×n matrix by cyclic Jacobi rotations; vectors are columns.</summary>
    private static (double[] Values, double[] Vectors) JacobiEigen(double[] a, int n)
    {
        var v = new double[n * n];
        for (var i = 0; i < n; i++) v[i * n + i] = 1;
        for (var sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (var p = 0; p < n; p++) for (var q = p + 1; q < n; q++) off += a[p * n + q] * a[p * n + q];
            if (off < 1e-30) break;
            for (var p = 0; p < n; p++)
                for (var q = p + 1; q < n; q++)
                {
                    var apq = a[p * n + q];
                    if (Math.Abs(apq) < 1e-300) continue;
                    var theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
                    var t = Math.Sign(theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;
                    for (var k = 0; k < n; k++)
                    {
                        double akp = a[k * n + p], akq = a[k * n + q];
                        a[k * n + p] = c * akp - s * akq;
                        a[k * n + q] = s * akp + c * akq;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        double apk = a[p * n + k], aqk = a[q * n + k];
                        a[p * n + k] = c * apk - s * aqk;
                        a[q * n + k] = s * apk + c * aqk;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        double vkp = v[k * n + p], vkq = v[k * n + q];
                        v[k * n + p] = c * vkp - s * vkq;
                        v[k * n + q] = s * vkp + c * vkq;
                    }
                }
        }
        var values = new double[n];
        for (var i = 0; i < n; i++) values[i] = a[i * n + i];
        return (values, v);
    }
}
