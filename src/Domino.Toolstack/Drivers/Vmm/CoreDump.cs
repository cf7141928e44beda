using Domino.Vmm;

namespace Domino.Toolstack.Drivers.Vmm;

/// <summary>Writes a VM's memory and the registers the VMM kept (the vCPU that stopped it) as an ELF core.</summary>
internal static class CoreDump
{
    private const int Chunk = 1 << 20;

    public static void Write(VirtualMachine vm, string path)
    {
        var exit = vm.Exited.IsCompleted ? vm.Exited.Result : null;
        var vcpus = new List<VcpuRegisters>();
        for (var i = 0; i < vm.VcpuCount; i++)
        {
            if (exit?.Vcpu is { } snap && snap.VcpuId == i)
            {
                var r = snap.Registers;
                var s = snap.SpecialRegisters;
                vcpus.Add(new VcpuRegisters
                {
                    Rax = r.Rax, Rbx = r.Rbx, Rcx = r.Rcx, Rdx = r.Rdx, Rsi = r.Rsi, Rdi = r.Rdi, Rsp = r.Rsp, Rbp = r.Rbp,
                    R8 = r.R8, R9 = r.R9, R10 = r.R10, R11 = r.R11, R12 = r.R12, R13 = r.R13, R14 = r.R14, R15 = r.R15,
                    Rip = r.Rip, Rflags = r.Rflags, Cs = s.Cs.Selector, Ss = s.Ss.Selector, Ds = s.Ds.Selector, Es = s.Es.Selector,
                    Fs = s.Fs.Selector, Gs = s.Gs.Selector, FsBase = s.Fs.Base, GsBase = s.Gs.Base,
                });
            }
            else vcpus.Add(new VcpuRegisters()); // registers of vCPUs that did not stop the guest are not kept by the VMM
        }
        var memory = vm.Memory;
        var regions = memory.Regions.Select(region => new MemoryRegion(region.Gpa, region.Size, output =>
        {
            for (ulong off = 0; off < region.Size; off += Chunk)
            {
                var n = (int)Math.Min(Chunk, region.Size - off);
                output.Write(memory.GetSpan(region.Gpa + off, n));
            }
        })).ToList();
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        ElfCore.Write(file, vcpus, regions);
    }
}
