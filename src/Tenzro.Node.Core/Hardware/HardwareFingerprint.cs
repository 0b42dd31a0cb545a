using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// A stable identifier of the hardware: lowercase hex SHA-256 over the CPU model, logical cores, total
/// memory (rounded to 128 MiB, so a kernel that reserves a little more memory does not change it), each
/// GPU's name and memory, and the machine id when readable. Benchmarks are cached under it, so a change
/// of any part makes them run again.
/// </summary>
public static class HardwareFingerprint
{
    private const long MemoryGranule = 128L * 1024 * 1024;

    public static string Compute(HardwareFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"cpu.model={facts.Cpu.Model}\n");
        text.Append(CultureInfo.InvariantCulture, $"cpu.logicalCores={facts.Cpu.LogicalCores}\n");
        text.Append(CultureInfo.InvariantCulture, $"memory.totalBytes={(facts.Memory.TotalBytes + (MemoryGranule / 2)) / MemoryGranule * MemoryGranule}\n");
        foreach (var gpu in facts.Gpus.OrderBy(g => g.Name, StringComparer.Ordinal).ThenBy(g => g.MemoryBytes))
        {
            text.Append(CultureInfo.InvariantCulture, $"gpu={gpu.Name}|{gpu.MemoryBytes}\n");
        }

        if (facts.MachineId is { } machineId)
        {
            text.Append(CultureInfo.InvariantCulture, $"machineId={machineId}\n");
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
