using SharpFuzz;
using Tenzro.Node.Fuzz;

// tenzro-fuzz TARGET            run under afl-fuzz (the input on stdin, SharpFuzz's forkserver)
// tenzro-fuzz TARGET FILE...    replay inputs once each, outside AFL++ (exit 1 on the first crash)
if (args.Length == 0 || !FuzzTargets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Tenzro.Node.Fuzz {{{string.Join('|', FuzzTargets.All.Keys)}}} [FILE...]");
    return 2;
}

if (args.Length == 1)
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target(buffer.ToArray());
    });
    return 0;
}

foreach (var file in args.Skip(1))
{
    try
    {
        target(File.ReadAllBytes(file));
    }
    catch (Exception e)
    {
        Console.Error.WriteLine($"{file}: {e}");
        return 1;
    }
}

Console.WriteLine($"{args[0]}: {args.Length - 1} input(s) replayed, no crash");
return 0;
