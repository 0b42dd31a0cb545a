using System.Globalization;
using System.Text.RegularExpressions;

namespace Tenzro.Node.Core.Hardware;

/// <summary>
/// GPUs with a loaded kernel driver, from <c>/sys/class/drm/card*/device</c>: AMD (vendor 0x1002, VRAM in
/// <c>mem_info_vram_total</c>), Intel (0x8086) and NVIDIA (0x10de, for machines without nvidia-smi).
/// Other vendors there (virtual or BMC display adapters) are not compute GPUs and are left to lspci.
/// </summary>
public static partial class DrmGpus
{
    private static readonly Dictionary<string, string> Vendors = new(StringComparer.OrdinalIgnoreCase)
    {
        ["0x1002"] = "AMD",
        ["0x8086"] = "Intel",
        ["0x10de"] = "NVIDIA",
    };

    /// <summary>Reads <c>{root}/sys/class/drm</c>; <paramref name="root"/> is <c>/</c> on a real system and a fixture tree in tests.</summary>
    /// <param name="root">The filesystem root to read under.</param>
    /// <param name="pciNames">Device names by PCI slot (from lspci) for cards that do not report a product name.</param>
    public static IReadOnlyList<GpuProfile> Read(string root, IReadOnlyDictionary<string, string>? pciNames = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        var drm = SysFs.Under(root, "/sys/class/drm");
        if (!Directory.Exists(drm))
        {
            return [];
        }

        var gpus = new List<GpuProfile>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var card in Directory.EnumerateDirectories(drm).Select(Path.GetFileName).Where(n => n is not null && CardName().IsMatch(n)).Order(StringComparer.Ordinal))
        {
            var device = Path.Combine(drm, card!, "device");
            var vendorId = SysFs.ReadFileTrimmed(Path.Combine(device, "vendor"));
            if (vendorId is null || !Vendors.TryGetValue(vendorId, out var vendor))
            {
                continue;
            }

            var uevent = ParseUevent(SysFs.ReadFileTrimmed(Path.Combine(device, "uevent")) ?? "");
            var slot = uevent.TryGetValue("PCI_SLOT_NAME", out var s) && PciAddress.TryNormalize(s, out var normalized) ? normalized : null;
            if (slot is not null && !seen.Add(slot))
            {
                continue;
            }

            var deviceId = SysFs.ReadFileTrimmed(Path.Combine(device, "device"));
            var name = SysFs.ReadFileTrimmed(Path.Combine(device, "product_name"))
                ?? (slot is not null && pciNames is not null && pciNames.TryGetValue(slot, out var pciName) ? pciName : null)
                ?? $"{vendor} GPU [{vendorId[2..]}:{deviceId?.Replace("0x", "", StringComparison.OrdinalIgnoreCase) ?? "?"}]";
            var vram = SysFs.ReadFileTrimmed(Path.Combine(device, "mem_info_vram_total")) is { } v
                && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var bytes) && bytes > 0 ? bytes : (long?)null;
            gpus.Add(new GpuProfile
            {
                Vendor = vendor,
                Name = name,
                MemoryBytes = vram,
                Driver = uevent.GetValueOrDefault("DRIVER"),
                BusId = slot,
                Source = "drm",
                Usable = true,
            });
        }

        return gpus;
    }

    private static Dictionary<string, string> ParseUevent(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0)
            {
                values[line[..equals]] = line[(equals + 1)..];
            }
        }

        return values;
    }

    [GeneratedRegex("^card[0-9]+$")]
    private static partial Regex CardName();
}
