; Inno Setup 6 script: Inspector for Windows — per-machine install in Program Files, a Start-menu
; entry, a self-test at the end of the install, and an uninstall that removes every file it put there.
;
; Build on Windows (packaging/README.md has the whole sequence):
;   python -m PyInstaller --noconfirm packaging\inspector.spec          -> dist\inspector\
;   iscc /DAppVersion=0.1.0 packaging\windows\inspector.iss              -> dist\inspector-0.1.0-setup.exe (+ .bin)
; CPU-only edition: build into dist\inspector-cpu (INSPECTOR_EDITION=cpu), then add /DEdition=-cpu.
; `python packaging\version.py` prints the version (it comes from pyproject.toml).

#ifndef AppVersion
  #error Pass the version: iscc /DAppVersion=X.Y.Z packaging\windows\inspector.iss
#endif
#ifndef Edition
  #define Edition ""
#endif
#define SourceDir "..\..\dist\inspector" + Edition

[Setup]
; One AppId for every edition: installing the CPU edition over the GPU one replaces it.
AppId={{3E6A8C52-9B0D-4F7E-A1C4-6D2B8E5F9A17}
AppName=Inspector
AppVersion={#AppVersion}
AppVerName=Inspector {#AppVersion}
AppPublisher=Inspector
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\Inspector
DefaultGroupName=Inspector
DisableProgramGroupPage=yes
; Per machine: every operator account on the shop-floor PC gets it; needs an administrator once.
PrivilegesRequired=admin
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
WizardStyle=modern
SetupIconFile=..\..\resources\icons\inspector.ico
UninstallDisplayIcon={app}\inspector-gui.exe
UninstallDisplayName=Inspector {#AppVersion}
OutputDir=..\..\dist
OutputBaseFilename=inspector{#Edition}-{#AppVersion}-setup
; The bundle is mostly already-compressed native libraries: fast LZMA2 gets nearly all of what
; "max" would, in minutes instead of an hour.
Compression=lzma2/fast
SolidCompression=no
#if Edition == ""
; The GPU edition (CUDA libraries, about 4 GB) exceeds what one setup .exe may hold: Setup.exe plus
; .bin slices, shipped together in one folder.
DiskSpanning=yes
DiskSliceSize=max
#endif

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; GroupDescription: "Shortcuts:"; Flags: unchecked

[InstallDelete]
; An upgrade replaces the program folder completely: no stale module from an older version stays.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Inspector"; Filename: "{app}\inspector-gui.exe"; WorkingDir: "{userdocs}"; \
    Comment: "Deep-learning inspection workstation"
Name: "{autoprograms}\Inspector self-test"; Filename: "{cmd}"; \
    Parameters: "/k ""{app}\inspector.exe"" --self-test"; WorkingDir: "{userdocs}"; \
    Comment: "Check that Inspector works on this PC (takes about a minute)"
Name: "{autodesktop}\Inspector"; Filename: "{app}\inspector-gui.exe"; WorkingDir: "{userdocs}"; Tasks: desktopicon

[Run]
Filename: "{app}\inspector-gui.exe"; Description: "Start Inspector"; Flags: postinstall nowait skipifsilent

[UninstallDelete]
; Files the program may have made in its own folder (Python caches); projects, settings and logs
; live in the user's folders and are kept.
Type: filesandordirs; Name: "{app}"

[Code]
// The installed program checks itself (imports, Qt, the bundled backbone, one training step, a
// project in a temp folder, no network). A failure is reported, never ignored.
procedure CurStepChanged(CurStep: TSetupStep);
var
  ResultCode: Integer;
begin
  if CurStep = ssPostInstall then
  begin
    WizardForm.StatusLabel.Caption := 'Checking the installation (self-test, about a minute)...';
    if not Exec(ExpandConstant('{app}\inspector.exe'), '--self-test', ExpandConstant('{tmp}'),
                SW_HIDE, ewWaitUntilTerminated, ResultCode) or (ResultCode <> 0) then
      SuppressibleMsgBox('Inspector was installed, but its self-test failed (code ' + IntToStr(ResultCode) +
        '). Run "Inspector self-test" from the Start menu to see why.', mbError, MB_OK, IDOK);
  end;
end;
