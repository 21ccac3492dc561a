using SelfAlign.Data;
namespace SelfAlign.Training;

/// <summary>
/// Which windows each epoch trains on, and which are held out for validation.
/// <see cref="PackingOrder.Reshuffled"/>: validation records are drawn once by the seed, and every epoch packs the
/// training records in a new order, so windows never hold the same neighbours twice and the model cannot lower the
/// loss by copying an earlier record of its window instead of reading the prompt (docs/training.md).
/// <see cref="PackingOrder.Fixed"/>: the records are packed once in file order, validation windows are drawn from
/// those, and each epoch shuffles the windows; the testbed models were built this way.
/// Both orders depend only on the seed and the epoch, so a resumed run trains the same windows.
/// </summary>
internal sealed class EpochPlan
{
    private readonly TrainingCorpus _corpus;
    private readonly TrainingOptions _o;
    private readonly List<int> _trainRecords = [];
    private readonly List<TrainingWindow> _fixedWindows = [];

    public List<TrainingWindow> Validation { get; }
    /// <summary>The first epoch's packing (its cut records and dropped tokens are what the report shows).</summary>
    public TrainingPacking First { get; }

    public EpochPlan(TrainingCorpus corpus, TrainingOptions options)
    {
        _corpus = corpus;
        _o = options;
        if (_o.Packing == PackingOrder.Fixed)
        {
            var packing = corpus.Pack(_o.WholeRecords);
            var (train, val) = Split(packing.Windows.Count, "window");
            _fixedWindows = train.Select(i => packing.Windows[i]).ToList();
            Validation = val.Select(i => packing.Windows[i]).ToList();
            First = packing with { Windows = WindowsOf(0) };
            return;
        }
        (_trainRecords, var valRecords) = Split(corpus.Records, "record");
        Validation = corpus.Pack(valRecords, _o.WholeRecords).Windows;
        if (valRecords.Count > 0 && Validation.Count == 0)
            throw new InvalidInputException($"ValidationFraction {_o.ValidationFraction} holds out {valRecords.Count} records, too few for one window of {_o.ContextLength} tokens");
        First = corpus.Pack(Shuffle(_trainRecords, 0), _o.WholeRecords);
        if (First.Windows.Count == 0) throw new InvalidInputException($"ValidationFraction {_o.ValidationFraction} leaves too few tokens for one training window");
    }

    public List<TrainingWindow> WindowsOf(int epoch) => _o.Packing == PackingOrder.Fixed
        ? Shuffle(Enumerable.Range(0, _fixedWindows.Count).ToList(), epoch).Select(i => _fixedWindows[i]).ToList()
        : epoch == 0 ? First.Windows : _corpus.Pack(Shuffle(_trainRecords, epoch), _o.WholeRecords).Windows;

    private (List<int> Train, List<int> Val) Split(int count, string unit)
    {
        var nVal = (int)Math.Round(count * _o.ValidationFraction);
        if (_o.ValidationFraction > 0) nVal = Math.Max(1, nVal);
        if (nVal >= count) throw new InvalidInputException($"ValidationFraction {_o.ValidationFraction} leaves no training {unit} of {count}");
        var order = Shuffle(Enumerable.Range(0, count).ToArray(), _o.Seed ^ 0x5EED);
        return (order.Skip(nVal).ToList(), order.Take(nVal).ToList());
    }

    private List<int> Shuffle(List<int> items, int epoch) => Shuffle(items.ToArray(), _o.Seed + (ulong)epoch * 7919).ToList();

    private static int[] Shuffle(int[] items, ulong seed)
    {
        Seeds.Random(seed).Shuffle(items);
        return items;
    }
}
