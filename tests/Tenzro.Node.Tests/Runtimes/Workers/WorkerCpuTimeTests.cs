using System.Globalization;
using System.Text;
using Tenzro.Node.Core.Resources;

namespace Tenzro.Node.Tests.Runtimes.Workers;

/// <summary>The CPU time a worker is charged, read from <c>/proc/PID/stat</c> through a handle kept open.</summary>
[Trait("Suite", "inference")]
public sealed class WorkerCpuTimeTests
{
    [Fact]
    public void ParseCpuTicks_CommandNameWithSpacesAndParentheses_ReadsUtimePlusStime()
    {
        // Fields 14 and 15 are utime and stime; the command name may hold ") (" and spaces.
        var line = "4242 (tenzro (w) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731 269 0 0 20 0 9 0 123456 1000 200 18446744073709551615\n";

        Assert.Equal(1000, ThreadCpu.CpuTicks(Encoding.ASCII.GetBytes(line)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("4242 tenzro S 1 2 3")]
    [InlineData("4242 (tenzro) S 1 4242 4242 0 -1 4194560 1234 0 0 0 73x 269 0")]
    [InlineData("4242 (tenzro) S 1 4242 4242 0 -1 4194560 1234 0 0 0 731")]
    public void ParseCpuTicks_NotAStatLine_IsNull(string line) => Assert.Null(ThreadCpu.CpuTicks(Encoding.ASCII.GetBytes(line)));

    [Fact]
    public void ParseCpuTicks_ThisProcess_AgreesWithTheTextParse()
    {
        var text = File.ReadAllText("/proc/self/stat");
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        var expected = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);

        var parsed = ThreadCpu.CpuTicks(Encoding.ASCII.GetBytes(text));

        // Read a moment apart: this process may have used a tick or two in between.
        Assert.NotNull(parsed);
        Assert.InRange(parsed.Value, expected, expected + 5);
    }
}
