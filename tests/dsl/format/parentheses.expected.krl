alert a on deal when x == 1 and y == 2 or z == 3

alert b on deal when x == 1 and (y == 2 or z == 3)

alert c on deal when a or (b or c)

alert d on deal when not (a and b) and not c

alert e on deal when (a + b) * c > d * e + f

alert f on deal when a - (b - c) == a - b - c

alert g on deal when a / (b * c) >= -(d + e) - -f

alert h on deal when (a == b) == c and (x in [1, 2]) in [true]

alert i on deal when (not a) in [b] or (x is missing) == false

kpi k on deal = sum(amount where type == new_logo and status == won) / (count() - 1)
