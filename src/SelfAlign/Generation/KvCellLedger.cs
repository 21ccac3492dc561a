using System.Runtime.InteropServices;
using SelfAlign.Native;

namespace SelfAlign.Generation;

/// <summary>
/// Counts a unified KV cache's occupied cells exactly, which llama.cpp's API cannot: a decoded token takes one cell
/// (shared by every sequence it is tagged with), a fork shares the source's cells, and a removal frees only the cells
/// no sequence holds any more. Each cell belongs to the group of the sequence that made it, so two users of one
/// context (the engine's requests, a RAIN search lent part of it) each know their own share.
/// Each sequence holds consecutive positions; an operation that would leave a gap is refused before llama.cpp sees it.
/// </summary>
internal sealed class KvCellLedger
{
    private readonly Held[] _held;
    private readonly int[] _groupOfSequence;
    private readonly List<int> _holders = [];
    private readonly List<int> _groupOfCell = [];
    private readonly Stack<int> _freeIds = new();
    private readonly int[] _cellsByGroup;
    private readonly Dictionary<int, int> _ends = [];

    /// <summary>One sequence's cells, by position from <see cref="Start"/>.</summary>
    private sealed class Held
    {
        public int Start;
        public readonly List<int> Cells = [];
        public int End => Start + Cells.Count;
    }

    public KvCellLedger(int sequences)
    {
        _held = new Held[sequences];
        for (var s = 0; s < sequences; s++) _held[s] = new Held();
        _groupOfSequence = new int[sequences];
        _cellsByGroup = new int[sequences + 1];
    }

    /// <summary>Occupied cells.</summary>
    public int Used { get; private set; }

    /// <summary>Occupied cells made by sequences of <paramref name="group"/>.</summary>
    public int UsedBy(int group) => _cellsByGroup[group];

    /// <summary>Cells <paramref name="sequence"/> makes from now on count for <paramref name="group"/> (0..sequences; 0 at first).</summary>
    public void SetGroup(int sequence, int group) => _groupOfSequence[sequence] = group;

    /// <summary>Refuses a batch that would leave a gap in a sequence's positions (a bug in its caller).</summary>
    public void Check(LlamaBatch batch)
    {
        _ends.Clear();
        for (var i = 0; i < batch.Count; i++)
        {
            var position = batch.Position(i);
            foreach (var s in batch.Sequences(i))
            {
                var held = _held[s];
                var end = _ends.TryGetValue(s, out var e) ? e : held.Cells.Count == 0 ? position : held.End;
                if (position != end)
                    throw new InvalidOperationException($"sequence {s} holds positions [{held.Start}, {held.End}) and would get a token at {position}: positions must follow on");
                _ends[s] = position + 1;
            }
        }
    }

    /// <summary>Records a decoded batch (after <see cref="Check"/>).</summary>
    public void Record(LlamaBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            var sequences = batch.Sequences(i);
            var cell = NewCell(_groupOfSequence[sequences[0]], sequences.Length);
            var position = batch.Position(i);
            foreach (var s in sequences)
            {
                var held = _held[s];
                if (held.Cells.Count == 0) held.Start = position;
                held.Cells.Add(cell);
            }
        }
    }

    /// <summary>Checks a fork of <paramref name="source"/>'s positions [from, to) into <paramref name="destination"/> before it is made.</summary>
    public void CheckCopy(int source, int destination, int from, int to)
    {
        var (a, b) = Range(_held[source], from, to);
        var dst = _held[destination];
        if (a < b && dst.Cells.Count > 0 && dst.End != a)
            throw new InvalidOperationException($"sequence {destination} holds positions [{dst.Start}, {dst.End}); a fork of [{a}, {b}) into it must follow on");
    }

    public void Copy(int source, int destination, int from, int to)
    {
        var src = _held[source];
        var (a, b) = Range(src, from, to);
        if (a >= b) return;
        var dst = _held[destination];
        if (dst.Cells.Count == 0) dst.Start = a;
        var cells = CollectionsMarshal.AsSpan(src.Cells)[(a - src.Start)..(b - src.Start)];
        dst.Cells.AddRange(cells);
        foreach (var c in cells) _holders[c]++;
    }

    /// <summary>Checks a removal of positions [from, to) before it is made: only a whole sequence, its head or its tail.</summary>
    public void CheckRemove(int sequence, int from, int to)
    {
        if (sequence < 0) return;
        var held = _held[sequence];
        var (a, b) = Range(held, from, to);
        if (a < b && a > held.Start && b < held.End)
            throw new InvalidOperationException($"removing positions [{a}, {b}) from the middle of sequence {sequence} [{held.Start}, {held.End}) would leave a gap");
    }

    public void Remove(int sequence, int from, int to)
    {
        if (sequence < 0)
        {
            for (var s = 0; s < _held.Length; s++) Remove(s, from, to);
            return;
        }
        var held = _held[sequence];
        var (a, b) = Range(held, from, to);
        if (a >= b) return;
        var first = a - held.Start;
        foreach (var c in CollectionsMarshal.AsSpan(held.Cells)[first..(b - held.Start)]) Drop(c);
        held.Cells.RemoveRange(first, b - a);
        if (first == 0) held.Start = b;
    }

    public void Clear()
    {
        foreach (var h in _held) h.Cells.Clear();
        _holders.Clear();
        _groupOfCell.Clear();
        _freeIds.Clear();
        Array.Clear(_cellsByGroup);
        Used = 0;
    }

    /// <summary>The positions of [from, to) the sequence holds (negative bounds: unbounded, as llama.cpp reads them).</summary>
    private static (int From, int To) Range(Held held, int from, int to) =>
        (Math.Max(held.Start, from < 0 ? 0 : from), Math.Min(held.End, to < 0 ? int.MaxValue : to));

    private int NewCell(int group, int holders)
    {
        int id;
        if (_freeIds.Count > 0)
        {
            id = _freeIds.Pop();
            _holders[id] = holders;
            _groupOfCell[id] = group;
        }
        else
        {
            id = _holders.Count;
            _holders.Add(holders);
            _groupOfCell.Add(group);
        }
        Used++;
        _cellsByGroup[group]++;
        return id;
    }

    private void Drop(int cell)
    {
        if (--_holders[cell] > 0) return;
        Used--;
        _cellsByGroup[_groupOfCell[cell]]--;
        _freeIds.Push(cell);
    }
}
