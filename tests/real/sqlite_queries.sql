-- sqlite_queries.sql — queries over the database sqlite_gen.sql builds, for
-- poolalloc's sqlite3 check: joins, GROUP BY, ORDER BY over large sets (temp
-- b-trees), window functions, CTEs, string building. Every ORDER BY is total,
-- so the output is fully determined by the data.
PRAGMA cache_size = -65536;
.headers on
.mode list
PRAGMA integrity_check;
SELECT count(*) AS customers FROM customer;
SELECT count(*) AS orders, sum(note IS NOT NULL) AS with_note FROM orders;
SELECT count(*) AS lines, sum(qty) AS units FROM line;

-- revenue per city and tier (4-way join, group by)
SELECT c.city, c.tier, count(DISTINCT o.id) AS n_orders, sum(l.qty * p.price_cents) AS revenue
FROM customer c JOIN orders o ON o.customer_id = c.id JOIN line l ON l.order_id = o.id JOIN product p ON p.id = l.product_id
WHERE o.status = 'shipped'
GROUP BY c.city, c.tier ORDER BY c.city, c.tier;

-- top customers by spend, with a window rank
SELECT * FROM (
  SELECT c.name, c.city, sum(l.qty * p.price_cents) AS spend,
         rank() OVER (PARTITION BY c.city ORDER BY sum(l.qty * p.price_cents) DESC, c.id) AS rk
  FROM customer c JOIN orders o ON o.customer_id = c.id JOIN line l ON l.order_id = o.id JOIN product p ON p.id = l.product_id
  GROUP BY c.id)
WHERE rk <= 3 ORDER BY city, rk;

-- monthly statistics with running totals
SELECT month, n, total, sum(total) OVER (ORDER BY month) AS running,
       round(avg(n) OVER (ORDER BY month ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), 2) AS n_avg3
FROM (SELECT substr(o.day, 1, 7) AS month, count(*) AS n, sum(l.qty) AS total
      FROM orders o JOIN line l ON l.order_id = o.id GROUP BY month)
ORDER BY month;

-- categories: best sellers, string aggregation
SELECT p.category, count(*) AS lines, sum(l.qty) AS units,
       substr(group_concat(p.id, ','), 1, 60) AS some_ids
FROM line l JOIN product p ON p.id = l.product_id
GROUP BY p.category ORDER BY units DESC, p.category;

-- a big sort: every order with its line count, ordered by a computed key (temp b-tree)
SELECT sum(k * pos) % 1000000007 AS sorted_checksum FROM (
  SELECT o.id * 1000 + count(l.product_id) AS k, row_number() OVER (ORDER BY o.day DESC, count(l.product_id), o.id) AS pos
  FROM orders o LEFT JOIN line l ON l.order_id = o.id GROUP BY o.id);

-- correlated subquery and EXISTS
SELECT c.tier, count(*) AS customers_without_returns
FROM customer c
WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'returned')
GROUP BY c.tier ORDER BY c.tier;

-- notes: text processing over many rows
SELECT length(group_concat(upper(note), '|')) AS note_chars, count(DISTINCT note) AS distinct_notes,
       max(length(note)) AS longest FROM orders WHERE note IS NOT NULL;

-- products never ordered by a given city, and products' order-count distribution
SELECT n_lines, count(*) AS products FROM (SELECT p.id, count(l.order_id) AS n_lines FROM product p LEFT JOIN line l ON l.product_id = p.id GROUP BY p.id)
GROUP BY n_lines ORDER BY n_lines LIMIT 20;

-- a recursive CTE with large intermediate state
WITH RECURSIVE walk(step, id, path) AS (
  SELECT 0, 1, '1'
  UNION ALL
  SELECT step + 1, (SELECT customer_id FROM orders WHERE id = 1 + (walk.id * 7919 + step) % 100000), path || '>' || id
  FROM walk WHERE step < 400)
SELECT step, id, length(path), substr(path, -40) FROM walk WHERE step % 50 = 0 ORDER BY step;

-- build and query a temporary table with many string keys
CREATE TEMP TABLE kv AS SELECT printf('%08d-%s', id, status) AS k, customer_id AS v FROM orders;
CREATE INDEX temp.kv_k ON kv(k);
SELECT count(*), min(k), max(k), sum(v) FROM kv WHERE k LIKE '%-pending';
SELECT k, v FROM kv ORDER BY substr(k, 5) DESC, k LIMIT 10;
