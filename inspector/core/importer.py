"""Import an ImageFolder tree (one sub-folder per class) into a project, reporting every file it refuses."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from inspector.core import imageio
from inspector.core.class_style import UNLABELLED_FOLDER, check_name
from inspector.core.errors import ImageDecodeError, ProjectError

OK_FOLDER_NAMES = frozenset({"good", "ok"})
MASK_FOLDER_NAMES = frozenset({"masks"})


class CancelLike(Protocol):
    def is_set(self) -> bool: ...


@dataclass
class ImportSummary:
    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file relative to src, one-line reason)
    per_class: dict[str, int] = field(default_factory=dict)  # newly added samples per class
    masks_skipped: int = 0
    labelled_existing: int = 0  # duplicates that were in the project unlabelled and got their folder's label
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # duplicates already labelled otherwise
    cancelled: bool = False

    def lines(self) -> list[str]:
        per = ", ".join(f"{name} {n}" for name, n in self.per_class.items() if n)
        out = [f"Added {self.added} image(s)" + (f" ({per})." if per else ".")]
        if self.duplicates:
            out.append(f"{self.duplicates} duplicate(s) skipped: the same image is already in the project.")
        if self.labelled_existing:
            out.append(f"{self.labelled_existing} unlabelled image(s) already in the project got their folder's label.")
        if self.masks_skipped:
            out.append(f"{self.masks_skipped} mask file(s) ignored.")
        if self.conflicts:
            out.append(f"{len(self.conflicts)} duplicate(s) kept their existing label:")
            out += [f"  {path}: {why}" for path, why in self.conflicts]
        if self.rejected:
            out.append(f"{len(self.rejected)} file(s) rejected:")
            out += [f"  {path}: {why}" for path, why in self.rejected]
        if self.cancelled:
            out.append("Import cancelled: the images added so far are kept; run it again to add the rest.")
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class _Candidate:
    path: Path
    rel: str
    label: str | None


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


_LINK = "a symbolic link — refused, as it may point outside the folder; copy the files in instead"


def _class_folders(src: Path) -> list[Path]:
    """Class folders: not hidden, not masks, not symbolic links (a link may point anywhere)."""
    return sorted((p for p in src.iterdir() if p.is_dir() and not p.is_symlink() and not _is_hidden(p.name)
                   and p.name.lower() not in MASK_FOLDER_NAMES), key=lambda p: p.name)


def _has_images(folder: Path) -> bool:
    return any(p.is_file() and not _is_hidden(p.name) and p.suffix.lower() in imageio.IMAGE_EXTENSIONS
               for p in folder.iterdir())


def _scan(src: Path, summary: ImportSummary, folders: list[Path] | None = None) -> list[_Candidate]:
    """Image files under each class folder, minus masks; non-image files go to summary.rejected.
    folders: the class folders when src is not their parent's listing (a single folder of images)."""
    extensions = ", ".join(sorted(imageio.IMAGE_EXTENSIONS))
    if folders is None:
        folders = _class_folders(src)
        for p in sorted(src.iterdir()):
            # Only a stray image is worth a word; notes such as ground_truth.csv beside the class folders
            # are normal.
            if p.is_symlink() and p.is_dir() and not _is_hidden(p.name):
                summary.rejected.append((p.name + "/", _LINK))
            elif p.is_file() and not _is_hidden(p.name) and p.suffix.lower() in imageio.IMAGE_EXTENSIONS:
                summary.rejected.append((p.name, "not inside a class folder — move it into one, e.g. good/"))
    found = []
    for folder in folders:
        label = None if folder.name == UNLABELLED_FOLDER else folder.name
        for dirpath, dirnames, filenames in os.walk(folder):  # does not follow links to folders
            for d in dirnames:
                if not _is_hidden(d) and (Path(dirpath) / d).is_symlink():
                    summary.rejected.append(((Path(dirpath) / d).relative_to(src).as_posix() + "/", _LINK))
            dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d) and d.lower() not in MASK_FOLDER_NAMES
                                 and not (Path(dirpath) / d).is_symlink())
            names = sorted(f for f in filenames if not _is_hidden(f))
            stems = {}
            for f in names:
                stem, ext = os.path.splitext(f)
                stems.setdefault(stem, set()).add(ext.lower())
            for f in names:
                path = Path(dirpath) / f
                rel = path.relative_to(src).as_posix()
                stem, ext = os.path.splitext(f)
                ext = ext.lower()
                if path.is_symlink():
                    summary.rejected.append((rel, _LINK))
                elif ext not in imageio.IMAGE_EXTENSIONS:
                    summary.rejected.append((rel, f"not an image file ({ext or 'no extension'}) — "
                                                  f"only {extensions} are imported"))
                elif ext == ".png" and (stems[stem] & imageio.IMAGE_EXTENSIONS) - {".png"}:
                    # Magnetic Tile layout: x.jpg is the picture, x.png beside it is its defect mask.
                    summary.masks_skipped += 1
                else:
                    found.append(_Candidate(path, rel, label))
    return found


def _cancelled(cancel: CancelLike | None) -> bool:
    return cancel is not None and cancel.is_set()


def import_imagefolder(project, src: str | Path, *, user: str = "import",
                       progress: Callable[[int, int], None] | None = None,
                       cancel: CancelLike | None = None) -> ImportSummary:
    """Import src/<class>/**/<image>. Folders named good or ok become ok-kind classes, all others defect
    classes. A folder that holds images and no class folders (e.g. good/ itself) is one class named
    after it. Bad files are listed in the summary with a reason; every good file is stored."""
    src = Path(src).expanduser()
    if not src.is_dir():
        raise ProjectError(f"{src} is not a folder — give the folder that holds one sub-folder per class "
                           "(e.g. good/ and scratch/)")
    folders = _class_folders(src)
    single = None
    if not folders and _has_images(src) and src.resolve().name:
        # `inspector import parts/good`: the folder of good parts itself, as users type it
        whole = src.resolve()
        single, folders = [whole], [whole]
        src = whole.parent
    if not folders:
        raise ProjectError(f"{src} has no class folders — put the images in one sub-folder per class, "
                           f"e.g. {src / 'good'} and {src / 'scratch'}")
    # Check every class before storing anything, so a kind clash cannot stop an import half way.
    kinds = {f.name: ("ok" if f.name.lower() in OK_FOLDER_NAMES else "defect")
             for f in folders if f.name != UNLABELLED_FOLDER}
    for name in kinds:  # a folder name becomes a class name, and later an export folder name
        check_name(name)
    for name, kind in kinds.items():
        existing = project.class_by_name(name)
        if existing is not None and existing.kind != kind:
            raise ProjectError(f"folder {name!r} would be a {kind} class but the project has {name!r} as "
                               f"{existing.kind} — rename the folder or the class")
    summary = ImportSummary(per_class=dict.fromkeys(kinds, 0))
    candidates = _scan(src, summary, single)
    for name, kind in kinds.items():
        project.add_class(name, kind)

    # Adding in content-hash order makes the splits depend on which images there are, not on file
    # names or folder order: the same images imported anywhere get the same train/val split.
    total = len(candidates)
    keyed = []
    for c in candidates:
        if _cancelled(cancel):
            summary.cancelled = True
            return summary
        try:
            keyed.append((hashlib.sha256(imageio.read_image_bytes(c.path)).hexdigest(), c.rel, c))
        except ImageDecodeError as e:
            summary.rejected.append((c.rel, str(e)))
    keyed.sort(key=lambda k: (k[0], k[1]))
    done = total - len(keyed)
    if progress:
        progress(done, total)
    for _, _, c in keyed:
        if _cancelled(cancel):
            summary.cancelled = True
            break
        _import_one(project, c, user, summary)
        done += 1
        if progress:
            progress(done, total)
    summary.rejected.sort()
    return summary


def _import_one(project, c: _Candidate, user: str, summary: ImportSummary) -> None:
    try:
        data = imageio.read_image_bytes(c.path)
        result = project.add_image(data, source=str(c.path), captured_at=c.path.stat().st_mtime,
                                   label=c.label, user=user)
    except ImageDecodeError as e:
        summary.rejected.append((c.rel, str(e)))
        return
    except OSError as e:
        summary.rejected.append((c.rel, f"cannot read the file ({e.strerror or e}) — check the drive"))
        return
    if not result.duplicate:
        summary.added += 1
        if c.label is not None:
            summary.per_class[c.label] = summary.per_class.get(c.label, 0) + 1
        return
    summary.duplicates += 1
    if c.label is None:
        return
    existing = project.sample(result.sample_id)
    if existing.label is None and existing.status == "unreviewed":
        project.set_label(result.sample_id, c.label, user)
        summary.labelled_existing += 1
    elif existing.label != c.label:
        summary.conflicts.append((c.rel, f"same image as sample #{existing.id}, which is labelled "
                                         f"{existing.label!r} (left as is)"))
