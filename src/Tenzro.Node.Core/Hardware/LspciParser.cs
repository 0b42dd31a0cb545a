using System.Text;

namespace Tenzro.Node.Core.Hardware;

/// <summary>One PCI device as <c>lspci -mm</c> describes it.</summary>
/// <param name="Slot">Normalized PCI address (see <see cref="PciAddress"/>).</param>
public sealed record PciDevice(string Slot, string Class, string Vendor, string Device);

/// <summary>Parses <c>lspci -mm -D</c> (machine-readable, one device a line, quoted fields). Pure.</summary>
public static class LspciParser
{
    /// <summary>The PCI classes of display adapters: VGA, 3D (compute-only cards) and other display controllers.</summary>
    private static readonly string[] DisplayClasses = ["VGA compatible controller", "3D controller", "Display controller"];

    public static IReadOnlyList<PciDevice> Parse(string lspciMm)
    {
        ArgumentNullException.ThrowIfNull(lspciMm);
        var devices = new List<PciDevice>();
        foreach (var line in lspciMm.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || !PciAddress.TryNormalize(line[..space], out var slot))
            {
                continue;
            }

            var quoted = Quoted(line[(space + 1)..]);
            if (quoted.Count >= 3)
            {
                devices.Add(new PciDevice(slot, quoted[0], quoted[1], quoted[2]));
            }
        }

        return devices;
    }

    /// <summary>The display adapters of <paramref name="devices"/>.</summary>
    public static IEnumerable<PciDevice> DisplayAdapters(IEnumerable<PciDevice> devices) =>
        devices.Where(d => DisplayClasses.Any(c => d.Class.StartsWith(c, StringComparison.Ordinal)));

    /// <summary>The quoted fields of the rest of a line, skipping unquoted options such as <c>-r01</c>.</summary>
    private static List<string> Quoted(string rest)
    {
        var fields = new List<string>();
        var i = 0;
        while (i < rest.Length)
        {
            if (rest[i] != '"')
            {
                i++;
                continue;
            }

            var field = new StringBuilder();
            i++;
            while (i < rest.Length && rest[i] != '"')
            {
                if (rest[i] == '\\' && i + 1 < rest.Length)
                {
                    i++;
                }

                field.Append(rest[i]);
                i++;
            }

            fields.Add(field.ToString());
            i++;
        }

        return fields;
    }
}
