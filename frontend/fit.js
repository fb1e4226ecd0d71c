// Fill an area with N tiles of one aspect ratio: the column count that gives the
// largest tiles. Used by /live (and anything else that shows a bare camera grid).

export function bestGrid(width, height, count, aspect = 16 / 9, gap = 8) {
  if (count < 1 || width <= 0 || height <= 0) return { columns: 1, tileWidth: width };
  let best = { columns: 1, tileWidth: 0 };
  for (let columns = 1; columns <= count; columns += 1) {
    const rows = Math.ceil(count / columns);
    const w = (width - gap * (columns - 1)) / columns;
    const h = (height - gap * (rows - 1)) / rows;
    const tileWidth = Math.floor(Math.min(w, h * aspect));
    if (tileWidth > best.tileWidth) best = { columns, tileWidth };
  }
  return best;
}

// Size ``grid`` (a CSS grid element) so its ``count`` children fill the space from its
// top to the bottom of the window; falls back to the stylesheet when nothing fits.
export function fitGrid(grid, count, aspect = 16 / 9) {
  const top = grid.getBoundingClientRect().top;
  const style = getComputedStyle(grid);
  const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
  const gap = parseFloat(style.columnGap) || 0;
  const width = grid.clientWidth - padX;
  const height = window.innerHeight - top - padY;
  const { columns, tileWidth } = bestGrid(width, height, count, aspect, gap);
  if (tileWidth < 160) { grid.style.gridTemplateColumns = ""; return; }   // phones: stylesheet
  grid.style.gridTemplateColumns = `repeat(${columns}, ${tileWidth}px)`;
  grid.style.justifyContent = "center";
  grid.dataset.columns = String(columns);
}
