using Domino.Bench;

// domino-bench SUITE [--runs N] — prints figures side by side with QEMU, as ratios.
var suite = args.FirstOrDefault() ?? "vmm";
var runs = ArgValue("--runs", 10);
var pio = ArgValue("--pio-count", 200_000);

try
{
    return suite switch
    {
        "vmm" => VmmBench.Run(runs, pio),
        "toolstack" => ToolstackBench.Run(runs),
        _ => Usage(),
    };
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException)
{
    Console.Error.WriteLine($"domino-bench: {e.Message}");
    return 1;
}

int ArgValue(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
}

static int Usage()
{
    Console.Error.WriteLine("usage: domino-bench vmm [--runs N] [--pio-count N]\n       domino-bench toolstack [--runs N]");
    return 2;
}
