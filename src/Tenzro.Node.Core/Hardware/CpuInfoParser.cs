using System.Globalization;

namespace Tenzro.Node.Core.Hardware;

/// <summary>What /proc/cpuinfo says about the processor.</summary>
/// <param name="Vendor">Intel, AMD, ARM, ... (mapped from <c>vendor_id</c> or <c>CPU implementer</c>); null when absent.</param>
/// <param name="Model">The model name; for ARM, built from the implementer and part numbers.</param>
/// <param name="Processors">Number of <c>processor</c> entries (online logical CPUs).</param>
/// <param name="PhysicalCores">Distinct (<c>physical id</c>, <c>core id</c>) pairs; null when the file has no core ids (ARM).</param>
/// <param name="CurrentMhz">Mean of the <c>cpu MHz</c> lines; null when absent.</param>
/// <param name="Features">The compute-relevant features present, in <see cref="CpuInfoParser.KnownFeatures"/> order.</param>
public sealed record CpuInfo(string? Vendor, string? Model, int Processors, int? PhysicalCores, double? CurrentMhz, IReadOnlyList<string> Features);

/// <summary>Parses the text of /proc/cpuinfo (x86 and ARM layouts). Pure: no file access.</summary>
public static class CpuInfoParser
{
    /// <summary>
    /// The features reported, by their canonical name. Flags the kernel spells differently are mapped:
    /// <c>pni</c> is SSE3, and ARM's <c>asimd</c> is NEON.
    /// </summary>
    public static readonly IReadOnlyList<string> KnownFeatures =
    [
        "sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "popcnt", "aes", "sha_ni", "avx", "avx2", "fma", "f16c", "bmi2",
        "avx512f", "avx512cd", "avx512dq", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni",
        "amx_tile", "amx_bf16", "amx_int8",
        "fp", "neon", "asimdhp", "asimddp", "sve", "sve2", "bf16", "i8mm", "sha2", "crc32", "atomics",
    ];

    private static readonly Dictionary<string, string> FlagAliases = new(StringComparer.Ordinal)
    {
        ["pni"] = "sse3",
        ["asimd"] = "neon",
    };

    private static readonly Dictionary<string, string> X86Vendors = new(StringComparer.Ordinal)
    {
        ["GenuineIntel"] = "Intel",
        ["AuthenticAMD"] = "AMD",
        ["HygonGenuine"] = "Hygon",
        ["CentaurHauls"] = "Centaur",
        ["Shanghai"] = "Zhaoxin",
    };

    private static readonly Dictionary<int, string> ArmImplementers = new()
    {
        [0x41] = "ARM",
        [0x42] = "Broadcom",
        [0x43] = "Cavium",
        [0x46] = "Fujitsu",
        [0x48] = "HiSilicon",
        [0x4e] = "NVIDIA",
        [0x50] = "APM",
        [0x51] = "Qualcomm",
        [0x53] = "Samsung",
        [0x61] = "Apple",
        [0xc0] = "Ampere",
    };

    private static readonly Dictionary<int, string> ArmParts = new()
    {
        [0xd03] = "Cortex-A53",
        [0xd04] = "Cortex-A35",
        [0xd05] = "Cortex-A55",
        [0xd07] = "Cortex-A57",
        [0xd08] = "Cortex-A72",
        [0xd09] = "Cortex-A73",
        [0xd0a] = "Cortex-A75",
        [0xd0b] = "Cortex-A76",
        [0xd0c] = "Neoverse-N1",
        [0xd0d] = "Cortex-A77",
        [0xd40] = "Neoverse-V1",
        [0xd41] = "Cortex-A78",
        [0xd44] = "Cortex-X1",
        [0xd46] = "Cortex-A510",
        [0xd47] = "Cortex-A710",
        [0xd48] = "Cortex-X2",
        [0xd49] = "Neoverse-N2",
        [0xd4f] = "Neoverse-V2",
    };

    public static CpuInfo Parse(string procCpuinfo)
    {
        ArgumentNullException.ThrowIfNull(procCpuinfo);
        var processors = 0;
        string? vendorId = null, modelName = null, hardware = null;
        var implementers = new List<int>();
        var parts = new List<int>();
        var flags = new HashSet<string>(StringComparer.Ordinal);
        var cores = new HashSet<(string Package, string Core)>();
        var mhz = new List<double>();
        var sawCoreId = false;
        string package = "0", core = "";

        void EndBlock()
        {
            if (core.Length > 0)
            {
                cores.Add((package, core));
            }

            package = "0";
            core = "";
        }

        foreach (var rawLine in procCpuinfo.Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Trim().Length == 0)
            {
                EndBlock();
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                continue;
            }

            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            switch (key)
            {
                case "processor":
                    if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                    {
                        EndBlock();
                        processors++;
                    }
                    else
                    {
                        // Old 32-bit ARM kernels put the model in a "Processor" line.
                        modelName ??= value;
                    }

                    break;
                case "vendor_id":
                    vendorId ??= value.Length > 0 ? value : null;
                    break;
                case "model name":
                case "cpu model":
                    modelName ??= value;
                    break;
                case "Hardware":
                    hardware ??= value;
                    break;
                case "physical id":
                    package = value;
                    break;
                case "core id":
                    core = value;
                    sawCoreId = true;
                    break;
                case "cpu MHz":
                    if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) && m > 0)
                    {
                        mhz.Add(m);
                    }

                    break;
                case "flags":
                case "Features":
                    foreach (var flag in value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    {
                        flags.Add(FlagAliases.GetValueOrDefault(flag, flag));
                    }

                    break;
                case "CPU implementer":
                    if (TryHex(value, out var implementer))
                    {
                        implementers.Add(implementer);
                    }

                    break;
                case "CPU part":
                    if (TryHex(value, out var part))
                    {
                        parts.Add(part);
                    }

                    break;
            }
        }

        EndBlock();

        var vendor = vendorId is not null
            ? X86Vendors.GetValueOrDefault(vendorId, vendorId)
            : implementers.Count > 0 ? ArmImplementers.GetValueOrDefault(implementers[0], $"0x{implementers[0]:x2}") : null;

        var model = modelName ?? ArmModel(vendor, implementers, parts) ?? hardware;
        var features = KnownFeatures.Where(flags.Contains).ToList();
        return new CpuInfo(
            vendor,
            model,
            processors,
            sawCoreId && cores.Count > 0 ? cores.Count : null,
            mhz.Count > 0 ? Math.Round(mhz.Average(), 1) : null,
            features);
    }

    /// <summary>Counts the CPUs of a kernel CPU list such as <c>0-3,8,10-11</c> (Cpus_allowed_list, cpuset.cpus); 0 for an empty or malformed list.</summary>
    public static int CountCpuList(string cpuList)
    {
        ArgumentNullException.ThrowIfNull(cpuList);
        var count = 0;
        foreach (var range in cpuList.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = range.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                if (!int.TryParse(range, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                {
                    return 0;
                }

                count++;
            }
            else if (int.TryParse(range[..dash], NumberStyles.Integer, CultureInfo.InvariantCulture, out var first)
                && int.TryParse(range[(dash + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var last)
                && last >= first)
            {
                count += last - first + 1;
            }
            else
            {
                return 0;
            }
        }

        return count;
    }

    private static string? ArmModel(string? vendor, List<int> implementers, List<int> parts)
    {
        if (parts.Count == 0)
        {
            return null;
        }

        var names = new List<string>();
        for (var i = 0; i < parts.Count; i++)
        {
            var implementer = i < implementers.Count ? implementers[i] : implementers.FirstOrDefault();
            var name = implementer == 0x41 && ArmParts.TryGetValue(parts[i], out var known)
                ? known
                : $"{vendor ?? "ARM"} part 0x{parts[i]:x3}";
            if (!names.Contains(name))
            {
                names.Add(name);
            }
        }

        return string.Join(" + ", names);
    }

    private static bool TryHex(string value, out int result) =>
        int.TryParse(value.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? value[2..] : value, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out result);
}
