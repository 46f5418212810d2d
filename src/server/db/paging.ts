// Paginated lists read their page first and count apart only when the page cannot tell the total.

/** The total of a list when its page tells it (an empty first page, or a part-filled last page); else null. */
export function totalFromPage(rows: number, page: number, pageSize: number): number | null {
  if (rows > 0 && rows < pageSize) return (page - 1) * pageSize + rows;
  return rows === 0 && page === 1 ? 0 : null;
}
